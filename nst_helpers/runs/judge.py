"""Judging a stylised picture with a network it was NOT optimised on (benchmarks/quality.py).

A recipe that optimises EfficientNet-Lite0's Gram matrices can score well on Lite0's own
features without looking painted to a person; a second ImageNet network is a fairer ruler.
Four numbers per result (images (1, 3, H, W) in [0, 1]):

    style      sum_l mean((G_result - G_style)^2) / mean(G_style^2), G = F F^T / (C*H*W),
               over five judge layers (stem, block2, block5, block10, block16), divided by the
               same sum for the photo: 1 = no style taken, 0 = the style's statistics
    colour     sliced Wasserstein distance of Lab pixel colours to the style's
               (metrics.sliced_wasserstein), divided by the photo's: 1 = the photo's palette
    structure  Pearson correlation of the luminance-gradient magnitude with the photo's
               (1 = the photo's edges, 0 = none of them)
    noise      mean |Laplacian| of the luminance, divided by the style image's (above 1 =
               busier than the painting: speckle)

Sizes: the result is resized to a long side of 384 px, the photo to the result's size,
the style to a long side of 384. The Gram matrix, the luminance and the sliced Wasserstein
distance are the ones of core.losses and runs.metrics: one definition each.
"""
import torch
import torch.nn.functional as F

from ..core.devices import module_device
from ..core.images import resize_to
from ..core.losses import gram_matrix
from .metrics import luminance, pixels, projection_quantiles
from .remembered import remembered

JUDGE_SIZE = 384
JUDGE_LAYERS = ("stem", "block2", "block5", "block10", "block16")  # Lite1/Lite2 (21 blocks)


def judge_backbone_name(optimised: str) -> str:
    """The network that judges a recipe optimised on `optimised`: Lite2, or Lite1 for Lite2."""
    return "efficientnet_lite1" if optimised == "efficientnet_lite2" else "efficientnet_lite2"


def long_side(image: torch.Tensor, size: int = JUDGE_SIZE) -> torch.Tensor:
    h, w = image.shape[-2:]
    s = size / max(h, w)
    return resize_to(image, (max(1, round(h * s)), max(1, round(w * s))))


def _grams(net, image: torch.Tensor) -> list:
    """The judge layers' Gram matrices F F^T / (C*H*W), on the CPU."""
    with torch.no_grad():
        feats = net(image.to(module_device(net)), list(JUDGE_LAYERS))
    return [gram_matrix(feats[name], "size_independent").cpu() for name in JUDGE_LAYERS]


def style_distance(result, photo, style, net) -> float:
    """The style distance above: 0 = the style's Gram statistics, 1 = the photo's distance."""
    result = long_side(result)
    photo = resize_to(photo, tuple(result.shape[-2:]))
    target = remembered(net, "judge:grams", long_side(style), lambda x: _grams(net, x))   # one painting, many results

    def dist(grams):
        return sum(((g - t) ** 2).mean() / (t ** 2).mean() for g, t in zip(grams, target))

    return float(dist(_grams(net, result)) / dist(remembered(net, "judge:grams", photo, lambda x: _grams(net, x))))


def srgb_to_lab(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) sRGB in [0, 1] -> CIE Lab (D65), L in [0, 100]."""
    rgb = image.double()
    lin = torch.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    m = lin.new_tensor([[0.4124564, 0.3575761, 0.1804375],
                        [0.2126729, 0.7151522, 0.0721750],
                        [0.0193339, 0.1191920, 0.9503041]])
    xyz = torch.einsum("ij,njhw->nihw", m, lin) / lin.new_tensor([0.95047, 1.0, 1.08883]).view(1, 3, 1, 1)
    d = 6 / 29
    f = torch.where(xyz > d ** 3, xyz.clamp_min(1e-12) ** (1 / 3), xyz / (3 * d * d) + 4 / 29)
    return torch.stack([116 * f[:, 1] - 16, 500 * (f[:, 0] - f[:, 1]), 200 * (f[:, 1] - f[:, 2])], dim=1)


def palette_distance(result, photo, style) -> float:
    """SWD of the result's Lab colours to the style's, divided by the photo's (1 = the photo's)."""
    result = long_side(result)
    photo = resize_to(photo, tuple(result.shape[-2:]))
    # the painting's and the photo's quantile functions are remembered: one painting, many results
    q_style, q_photo = (remembered(palette_distance, "judge:lab", x, _lab_quantiles) for x in (long_side(style), photo))
    q_result = _lab_quantiles(result)
    return float((q_result - q_style).abs().mean() / (q_photo - q_style).abs().mean())


def _lab_quantiles(image: torch.Tensor) -> torch.Tensor:
    """metrics.projection_quantiles of an image's Lab colours (sliced_wasserstein's, step by step)."""
    return projection_quantiles(pixels(srgb_to_lab(image)))


def gradient_magnitude(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) -> (N, 1, H-2, W-2) Sobel gradient magnitude of the luminance."""
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]], dtype=torch.float64).view(1, 1, 3, 3)
    y = luminance(image.cpu().double())
    return torch.sqrt(F.conv2d(y, kx) ** 2 + F.conv2d(y, kx.transpose(-1, -2)) ** 2)


def structure(result, photo) -> float:
    """Pearson correlation of the result's luminance-gradient magnitude with the photo's."""
    result = long_side(result)
    photo = resize_to(photo, tuple(result.shape[-2:]))
    a, b = gradient_magnitude(result).flatten(), gradient_magnitude(photo).flatten()
    return float(torch.corrcoef(torch.stack([a, b]))[0, 1])


def laplacian_energy(image: torch.Tensor) -> float:
    """Mean absolute 4-neighbour Laplacian of the luminance (valid positions only)."""
    k = torch.tensor([[0.0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=torch.float64).view(1, 1, 3, 3)
    return float(F.conv2d(luminance(image.cpu().double()), k).abs().mean())


def noise(result, style) -> float:
    """Busyness relative to the painting: laplacian_energy(result) / laplacian_energy(style)."""
    return laplacian_energy(long_side(result)) / laplacian_energy(long_side(style))


def judge(result, photo, style, net) -> dict:
    """All four numbers for one result: {style, colour, structure, noise}."""
    return {"style": style_distance(result, photo, style, net), "colour": palette_distance(result, photo, style),
            "structure": structure(result, photo), "noise": noise(result, style)}
