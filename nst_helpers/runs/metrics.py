"""The seed's four performance criteria, measured: total loss, content retention, style
preservation and visual coherence.

Every metric takes (1, 3, H, W) images in [0, 1] and returns a Python float. The feature
metrics take the backbone as an argument: measure a run with the backbone it ran on.
They use fixed, preset-independent layer weights, so every preset is measured with the
same ruler (the presets' own weights are what is being compared).

Devices: images and backbone may live anywhere. Feature metrics move the images to the
backbone's device (core.devices.module_device) and never move the backbone, which belongs to the caller;
the other metrics work on the image's device and create their constants there (float64 ones
on the CPU when the image is on MPS, which has no float64).

    metric                higher means                       module function
    total loss            a worse fit of the run's own goal   final_loss (not comparable across presets)
    SSIM (luminance)      more content structure retained     content_ssim
    content distance      less content retained               content_distance
    Gram distance         less of the style's texture         gram_distance
    colour distance       colours further from the style's    colour_distance
    total variation       less coherent (more edges/noise)    total_variation
    high-freq. energy     less coherent (more fine noise)     high_frequency_energy
"""
import math

import torch
import torch.nn.functional as F

from ..backbones.layers import resolve_layers
from ..core.config import SEED_STYLE_LAYERS
from ..core.devices import module_device
from ..core.images import resize_to
from ..core.losses import gram_matrix
from ..core.losses import total_variation as _tv
from .remembered import remembered

LUMA = (0.299, 0.587, 0.114)  # ITU-R BT.601 luma weights
K1, K2 = 0.01, 0.03           # SSIM's standard stabilising constants (Wang et al. 2004)

# name -> (table label, what a higher value means); the order of measure()'s dict
METRICS = {
    "total_loss": ("total loss", "worse fit of the run's own objective"),
    "ssim": ("SSIM (luma)", "more content structure retained"),
    "content_distance": ("content distance", "less content retained"),
    "gram_distance": ("Gram distance", "less style texture"),
    "colour_distance": ("colour distance", "colours further from the style"),
    "tv": ("total variation", "less coherent"),
    "hf_energy": ("high-freq. energy", "less coherent (more fine noise)"),
}


def _float64_device(device: torch.device) -> torch.device:
    """The device itself, or the CPU for MPS, which cannot hold float64 tensors."""
    return torch.device("cpu") if device.type == "mps" else device


def luminance(image: torch.Tensor) -> torch.Tensor:
    """(N, 3, H, W) RGB -> (N, 1, H, W) BT.601 luma, same range and dtype as the input."""
    w = image.new_tensor(LUMA).view(1, 3, 1, 1)
    return (image * w).sum(1, keepdim=True)


def gaussian_window(size: int = 11, sigma: float = 1.5, dtype=torch.float64, device=None) -> torch.Tensor:
    """(size, size) normalised Gaussian kernel (what scipy's gaussian_filter uses at radius size//2)."""
    x = torch.arange(size, dtype=dtype, device=device) - (size - 1) / 2
    g = torch.exp(-(x ** 2) / (2 * sigma ** 2))
    g = g / g.sum()
    return g[:, None] * g[None, :]


def ssim(a: torch.Tensor, b: torch.Tensor, data_range: float = 1.0, window: int = 11, sigma: float = 1.5) -> float:
    """Mean SSIM of two (N, C, H, W) images (per channel, then averaged); 1.0 = identical.

    Higher means more similar structure. Gaussian window 11, sigma 1.5, population
    (co)variances, K1=0.01, K2=0.03; the mean is over 'valid' window positions only, which
    is what skimage.metrics.structural_similarity(gaussian_weights=True, sigma=1.5,
    use_sample_covariance=False) reports after cropping its border.
    """
    if a.shape != b.shape:
        raise ValueError(f"ssim needs images of one shape, got {tuple(a.shape)} and {tuple(b.shape)}")
    dev = _float64_device(a.device)
    a, b = a.detach().to(dev, torch.float64), b.detach().to(dev, torch.float64)  # variances are small differences
    c = a.shape[1]
    k = gaussian_window(window, sigma, device=dev).expand(c, 1, window, window)

    def blur(t):
        return F.conv2d(t, k, groups=c)  # no padding: only windows fully inside the image

    mu_a, mu_b = blur(a), blur(b)
    var_a = blur(a * a) - mu_a ** 2
    var_b = blur(b * b) - mu_b ** 2
    cov = blur(a * b) - mu_a * mu_b
    c1, c2 = (K1 * data_range) ** 2, (K2 * data_range) ** 2
    s = ((2 * mu_a * mu_b + c1) * (2 * cov + c2)) / ((mu_a ** 2 + mu_b ** 2 + c1) * (var_a + var_b + c2))
    return float(s.mean())


def _same_size(reference: torch.Tensor, image: torch.Tensor) -> torch.Tensor:
    return reference if reference.shape[-2:] == image.shape[-2:] else resize_to(reference, tuple(image.shape[-2:]))


def content_ssim(image: torch.Tensor, content: torch.Tensor) -> float:
    """SSIM of the luminance of `image` against the content photo's (resized to match).

    Higher means more of the photo's structure retained (1.0 for the photo itself).
    Luminance only, because style transfer is meant to change colours.
    """
    dev = _float64_device(image.device)
    image, content = image.detach().to(dev), content.detach().to(dev)
    return ssim(luminance(image.double()), luminance(_same_size(content, image).double()))


def _image_features(image: torch.Tensor, backbone, layers: list) -> dict:
    """{layer: float32 activation} of one image (moved to the backbone's device, never the reverse)."""
    with torch.no_grad():
        return {k: v.float() for k, v in backbone(image.to(module_device(backbone), torch.float32), layers).items()}


def _content_reference(content: torch.Tensor, backbone, own: str) -> torch.Tensor:
    """The photo's activation at `own`, remembered: every result of a comparison is held against it."""
    return remembered(backbone, f"content:{own}", content, lambda x: _image_features(x, backbone, [own])[own])


def _style_grams(style: torch.Tensor, backbone, own: list) -> dict:
    """The style image's Gram matrices at `own`, remembered like the photo's features."""
    return remembered(backbone, "grams:" + ",".join(own), style,
                      lambda x: {k: gram_matrix(f) for k, f in _image_features(x, backbone, own).items()})


def _content_distance(f_x: torch.Tensor, f_c: torch.Tensor) -> float:
    return float(((f_x - f_c) ** 2).sum() / (f_c ** 2).sum().clamp_min(1e-12))


def _gram_distance(f_x: dict, g_s: dict) -> float:
    dists = [float(torch.linalg.norm(gram_matrix(f_x[k]) - g) / torch.linalg.norm(g).clamp_min(1e-12)) for k, g in g_s.items()]
    return sum(dists) / len(dists)


def content_distance(image: torch.Tensor, content: torch.Tensor, backbone, layer: str = "conv4_2") -> float:
    """Relative feature distance ||F(image) - F(content)||^2 / ||F(content)||^2 at `layer`.

    Higher means less content retained (0.0 for the photo itself). `layer` is a preset
    layer name (VGG19's) or the backbone's own; F is the backbone's activation there.
    """
    own = resolve_layers(backbone, [layer])[0]
    return _content_distance(_image_features(image, backbone, [own])[own],
                             _content_reference(_same_size(content, image), backbone, own))


def gram_distance(image: torch.Tensor, style: torch.Tensor, backbone, layers=SEED_STYLE_LAYERS) -> float:
    """Mean over `layers` of ||G(image) - G(style)||_F / ||G(style)||_F (Gram matrices as in losses).

    Higher means less of the style's texture statistics (0.0 for the style image itself).
    Sizes may differ: the Gram matrix is normalised by C*H*W.
    """
    own = resolve_layers(backbone, list(layers))
    return _gram_distance(_image_features(image, backbone, own), _style_grams(style, backbone, own))


def projection_quantiles(points: torch.Tensor, directions: int = 64, quantiles: int = 256, seed: int = 0) -> torch.Tensor:
    """(directions, quantiles) float64: the quantile functions of a point cloud (n, d) projected on
    `directions` random unit directions (a CPU generator seeded with `seed`, then moved to the points'
    device: the same on every device), read at `quantiles` evenly spaced levels (k + 0.5) / quantiles
    with linear interpolation between order statistics. On the CPU for MPS (no float64 there)."""
    dev = _float64_device(points.device)
    gen = torch.Generator().manual_seed(seed)
    dirs = torch.randn(points.shape[1], directions, generator=gen, dtype=torch.float64).to(dev)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    levels = (torch.arange(quantiles, dtype=torch.float64, device=dev) + 0.5) / quantiles
    # one row per direction: sorting contiguous rows is ~3x faster than sorting columns
    proj = (dirs.T @ points.detach().to(dev, torch.float64).T).sort(dim=1).values
    pos = levels * (proj.shape[1] - 1)
    lo, frac = pos.floor().long(), pos - pos.floor()
    hi = (lo + 1).clamp_max(proj.shape[1] - 1)
    return proj[:, lo] * (1 - frac) + proj[:, hi] * frac


def sliced_wasserstein(a: torch.Tensor, b: torch.Tensor, directions: int = 64, quantiles: int = 256,
                       seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between two point clouds (n, d) and (m, d): the mean over the
    directions of the mean |difference| of the projections' quantile functions (projection_quantiles;
    the clouds may differ in size)."""
    qa, qb = (projection_quantiles(x, directions, quantiles, seed) for x in (a, b))
    return float((qa - qb.to(qa.device)).abs().mean())


def pixels(image: torch.Tensor) -> torch.Tensor:
    """(1, C, H, W) -> (H*W, C): the image's pixels as a point cloud."""
    return image.reshape(image.shape[1], -1).T


def colour_distance(image: torch.Tensor, reference: torch.Tensor, directions: int = 64,
                    quantiles: int = 256, seed: int = 0) -> float:
    """Sliced Wasserstein-1 distance between the RGB pixel distributions of two images.

    Higher means colours further from the reference's (0.0 for the same pixels, in any
    order); sizes may differ. Units: RGB in [0, 1]. See sliced_wasserstein.
    """
    q_ref = remembered(colour_distance, f"rgb:{directions}:{quantiles}:{seed}", reference,   # one painting, many results
                       lambda x: projection_quantiles(pixels(x), directions, quantiles, seed))
    q = projection_quantiles(pixels(image), directions, quantiles, seed)
    return float((q - q_ref.to(q.device)).abs().mean())


def total_variation(image: torch.Tensor) -> float:
    """Mean absolute difference of neighbouring pixels (vertical + horizontal), as in losses.

    Higher means less coherent: more edges, texture and noise.
    """
    return float(_tv(image.detach()))


def high_frequency_energy(image: torch.Tensor, sigma: float = 1.0) -> float:
    """Mean squared difference between the image and its Gaussian blur (sigma in pixels).

    Higher means less coherent: more pixel-level noise and fine speckle.
    """
    radius = max(1, math.ceil(3 * sigma))
    x = image.detach().float()
    k = gaussian_window(2 * radius + 1, sigma, torch.float32, x.device).expand(3, 1, 2 * radius + 1, 2 * radius + 1)
    blurred = F.conv2d(F.pad(x, [radius] * 4, mode="reflect"), k, groups=3)
    return float(((x - blurred) ** 2).mean())


def final_loss(history: list) -> float:
    """The total loss at the last step of a run's history (rows with a 'total' key).

    Higher means a worse fit of that run's own weighted objective; it is not comparable
    across presets with different weights. NaN for an empty history.
    """
    return float(history[-1]["total"]) if history else float("nan")


def by_level(history: list) -> list[list[dict]]:
    """A run's history rows grouped by pyramid level (consecutive rows of one size)."""
    groups = []
    for row in history:
        if not groups or groups[-1][-1].get("size") != row.get("size"):
            groups.append([])
        groups[-1].append(row)
    return groups


def loss_decreased(history: list) -> bool:
    """True when the total loss went down on every pyramid level (its last step below its first):
    like with like, as the loss jumps up where a finer level starts with more pixels."""
    return bool(history) and all(float(rows[-1]["total"]) < float(rows[0]["total"]) for rows in by_level(history))


def measure(image: torch.Tensor, content: torch.Tensor, style: torch.Tensor, backbone, history=None) -> dict:
    """Every metric of METRICS for one result, as {name: float}, in METRICS' order."""
    (own_c,), own_s = resolve_layers(backbone, ["conv4_2"]), resolve_layers(backbone, list(SEED_STYLE_LAYERS))
    feats = _image_features(image, backbone, list(dict.fromkeys([own_c, *own_s])))   # one pass for both
    return {
        "total_loss": final_loss(history or []),
        "ssim": content_ssim(image, content),
        "content_distance": _content_distance(feats[own_c], _content_reference(_same_size(content, image), backbone, own_c)),
        "gram_distance": _gram_distance(feats, _style_grams(style, backbone, own_s)),
        "colour_distance": colour_distance(image, style),
        "tv": total_variation(image),
        "hf_energy": high_frequency_energy(image),
    }
