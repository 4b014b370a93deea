"""The temporal loss (Ruder et al. 2016) and the warping error (Lai et al. 2018, "Learning Blind
Video Temporal Consistency"), the same masked mean squared difference in two roles:

    masked_mse(x, y, c) = sum_i c_i |x_i - y_i|^2 / (3 * sum_i c_i)

over the pixels i where the mask c is 1 (a mean over the colour channels too, so that the value is
in [0, 1] units whatever the size). The temporal loss holds the frame being optimised to the
previous stylised frame warped by the input's flow, where that flow is reliable; the warping error
measures, for finished frames, how far each stylised frame is from its predecessor warped the same
way: flicker, in numbers (0 for a perfectly stable video).
"""
import torch

from ..core.images import resize_to
from .flow import warp


def masked_mse(x: torch.Tensor, y: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """0-dim: the mean of (x - y)^2 (both (1, 3, H, W)) over the pixels where mask (1, 1, H, W) is 1,
    and over the channels; 0 where the mask is empty (nothing to compare)."""
    weight = mask.sum() * x.shape[1]
    return (mask * (x - y) ** 2).sum() / weight.clamp(min=1)


class TemporalLoss:
    """extra_loss for transfer.run: weight * masked_mse(image, warped, mask), where `warped` is the
    previous stylised frame warped to this one (1, 3, H, W) and `mask` its reliability (1, 1, H, W).
    An image of another size (a coarser pyramid level) is compared with both resized to it."""

    def __init__(self, weight: float, warped: torch.Tensor, mask: torch.Tensor):
        self.weight, self.warped, self.mask = float(weight), warped, mask
        self.sized = {}   # (h, w, device) -> (warped, mask) at that size

    def __call__(self, image: torch.Tensor) -> torch.Tensor:
        key = (*image.shape[-2:], image.device)
        if key not in self.sized:
            warped, mask = self.warped, self.mask
            if warped.shape[-2:] != image.shape[-2:]:
                warped = resize_to(warped, image.shape[-2:])
                mask = (torch.nn.functional.interpolate(mask, size=image.shape[-2:], mode="area") > 0.999).float()
            self.sized[key] = (warped.to(image.device), mask.to(image.device))
        warped, mask = self.sized[key]
        return self.weight * masked_mse(image.float(), warped, mask)


def pair_error(current: torch.Tensor, previous: torch.Tensor, backward: torch.Tensor, mask: torch.Tensor) -> float:
    """The warping error of one pair: masked_mse(current, previous warped by the backward flow, mask);
    stylised frames (1, 3, H, W), the input's flow (1, 2, H, W) and reliability (1, 1, H, W)."""
    with torch.no_grad():
        return masked_mse(current, warp(previous, backward), mask).item()


def warping_error(frames: list, flows: list) -> tuple[float, list]:
    """(mean, per pair) warping error of stylised `frames` [(1, 3, H, W)] given the input's
    [(backward flow, mask)] from each frame t + 1 to frame t (len(frames) - 1 of them)."""
    errors = [pair_error(frames[t + 1], frames[t], *flows[t]) for t in range(len(frames) - 1)]
    return (sum(errors) / len(errors) if errors else 0.0), errors
