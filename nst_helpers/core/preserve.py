"""Keeping the photo's colours (Gatys et al. 2017, "Controlling Perceptual Factors in Neural Style
Transfer"), chosen by cfg.preserve_colour:

- "luminance": transfer the style's luminance only. Both images go to YIQ; the optimisation sees
  their Y channels (as grey RGB), the style's Y first given the photo's Y mean and spread; the
  result's Y is then joined with the photo's own I and Q (its chroma), so its colours are the photo's.
- "match": repaint the style image in the photo's colours first (pixel mean and covariance,
  colour.match_colour), then transfer as usual: the strokes are the painting's, the palette the photo's.
- "histogram": the same with each RGB channel's whole histogram (its sorted values) matched.
- "off": the painting's colours, as the seed did.

`prepare` makes the images the optimisation sees from the originals (a pure function of them: a
resumed run makes the same ones); `finish` turns an optimised image back into the result.
"""
import torch

from .colour import match_colour
from .images import resize_to

MODES = ("off", "luminance", "match", "histogram")   # config.PRESERVE_COLOUR (config imports no torch)

# RGB -> YIQ (NTSC 1953); its inverse below. Y is the luminance, I and Q the chroma.
RGB_TO_YIQ = torch.tensor([[0.299, 0.587, 0.114], [0.595716, -0.274453, -0.321263], [0.211456, -0.522591, 0.311135]],
                          dtype=torch.float64)
YIQ_TO_RGB = torch.linalg.inv(RGB_TO_YIQ)


def _mix(matrix: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    """(3, 3) matrix applied to each pixel of (1, 3, H, W), in float64, back in image's dtype."""
    out = torch.einsum("ij,njhw->nihw", matrix.to(image.device), image.double())
    return out.to(image.dtype)


def to_yiq(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) RGB in [0, 1] -> (1, 3, H, W) YIQ (Y in [0, 1], I and Q signed)."""
    return _mix(RGB_TO_YIQ, image)


def to_rgb(yiq: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) YIQ -> RGB, not clamped (a Y with another image's chroma may leave [0, 1])."""
    return _mix(YIQ_TO_RGB, yiq)


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) RGB -> its Y as grey RGB (1, 3, H, W)."""
    return to_yiq(image)[:, :1].expand(-1, 3, -1, -1).contiguous()


def match_histograms(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) image with each channel's values replaced by reference's at the same rank
    (the reference's quantiles, interpolated where the pixel counts differ)."""
    out = torch.empty_like(image)
    for c in range(3):
        x, ref = image[0, c].flatten(), reference[0, c].flatten().sort().values.to(image.device)
        ranks = torch.empty_like(x)
        ranks[x.argsort()] = torch.linspace(0, ref.numel() - 1, x.numel(), device=x.device, dtype=x.dtype)
        lo = ranks.floor().long().clamp(max=ref.numel() - 1)
        hi = (lo + 1).clamp(max=ref.numel() - 1)
        out[0, c] = torch.lerp(ref[lo], ref[hi], ranks - lo).reshape(image.shape[-2:])
    return out


def prepare(mode: str, content: torch.Tensor, style: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(content, style) as the optimisation sees them under preserve_colour `mode`."""
    if mode == "luminance":
        y_content, y_style = luminance(content), luminance(style)
        # the style's luminance with the photo's mean and spread, so the photo's brightness stays
        scaled = (y_style - y_style.mean()) / y_style.std().clamp_min(1e-6) * y_content.std() + y_content.mean()
        return y_content, scaled.clamp(0, 1)
    if mode == "match":
        return content, match_colour(style, content)
    if mode == "histogram":
        return content, match_histograms(style, content)
    return content, style


def finish(mode: str, image: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """An optimised image (1, 3, h, w) as the result: under "luminance" its Y with the photo's
    chroma (the photo resized to h, w), clamped to [0, 1]; else unchanged."""
    if mode != "luminance":
        return image
    photo = content if content.shape[-2:] == image.shape[-2:] else resize_to(content, image.shape[-2:])
    yiq = to_yiq(photo.to(image.device))
    yiq[:, :1] = to_yiq(image)[:, :1]
    return to_rgb(yiq).clamp(0, 1)
