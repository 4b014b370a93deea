"""Spatial control (Gatys et al. 2017, "Controlling Perceptual Factors"): a mask per style image
says where that style goes. White = this style here, black = not; gray blends.

    run(photo, [sky, suit], cfg, masks=["sky.png", "suit.png"])    # two regions, two styles
    run(photo, painting, cfg, masks=["background.png"])            # style the background only

Each region's Gram matrices are taken over its own pixels (the features times the mask, brought
down to each layer's size) and matched to its style image's, scaled to the region's area; its
term is divided by that area, so a small region is pulled as hard per pixel as a large one.
Outside every mask the picture stays the photo, whatever the start inside (cfg.init): the
gradient is masked there too, since the network's receptive fields would otherwise carry the
style across the edge.
"""
import torch
import torch.nn.functional as F

from . import images, losses
from .config import ConfigError

ASPECT_TOLERANCE = 0.02   # a mask's width/height may differ from the photo's by 2 % (rounding of a resize)


def load_masks(sources, content: torch.Tensor, count: int) -> list:
    """One mask source per style image (path, PIL image, (H, W[, C]) array, or tensor) ->
    [(1, 1, H, W) float in [0, 1]] at the photo's (H, W): resized (never cropped) when the
    aspect agrees, refused when it does not, or when a mask is black everywhere."""
    sources = list(sources) if isinstance(sources, (list, tuple)) else [sources]
    if len(sources) != count:
        raise ConfigError("masks", f"{len(sources)} mask(s) for {count} style image(s); give one mask per style "
                                   "image (white where that style goes)")
    h, w = content.shape[-2:]
    out = []
    for i, source in enumerate(sources):
        name = "the mask" if count == 1 else f"mask {i + 1}"
        if isinstance(source, torch.Tensor) and source.dim() == 2:
            source = source[None]   # (H, W): one channel
        rgb = images.tensor_to_rgb(source, name=name) if isinstance(source, torch.Tensor) else images.load_image(source)
        mh, mw = rgb.shape[-2:]
        if abs((mw / mh) / (w / h) - 1) > ASPECT_TOLERANCE:
            raise ConfigError("masks", f"{name} is {mw}x{mh} px ({mw / mh:.2f}:1) but the photo is {w}x{h} "
                                       f"({w / h:.2f}:1); make the mask the photo's shape (it is resized to the "
                                       "photo's size, not cropped or padded)")
        mask = images.resize_to(rgb.mean(dim=1, keepdim=True), (h, w))
        if float(mask.max()) < 1 / 255:
            raise ConfigError("masks", f"{name} is black everywhere, which gives its style no region; paint it "
                                       "white where the style should go")
        out.append(mask)
    return out


def given_masks(cfg, sources, content: torch.Tensor, count: int) -> list | None:
    """run()'s masks argument: None, or checked against the config and loaded (load_masks)."""
    if sources is None:
        return None
    check_masks(cfg)
    return load_masks(sources, content, count)


def check_masks(cfg) -> None:
    """Controls that masks do not combine with (yet), refused in one line each."""
    if cfg.style_blend is not None:
        raise ConfigError("style_blend", "masks already give each style its own region; leave style_blend out "
                                         "(or the masks)")
    if cfg.adaptive_weights != "off":
        raise ConfigError("adaptive_weights", "is not available with masks yet; set it to 'off'")
    if cfg.tile_size:
        raise ConfigError("tile_size", "is not available with masks yet; set it to 0 (off)")


def at_shape(masks: list, shape: tuple) -> list:
    """The masks resized to a pyramid level's (h, w), area-averaged (bilinear up), in [0, 1]."""
    return [F.interpolate(m, size=tuple(shape), mode="area" if m.shape[-1] >= shape[-1] else "bilinear",
                          **({} if m.shape[-1] >= shape[-1] else {"align_corners": False})).clamp(0, 1)
            for m in masks]


def at_features(mask: torch.Tensor, features: torch.Tensor) -> torch.Tensor:
    """mask (1, 1, H, W) brought to a layer's (h, w) by averaging (the layer's share of each pixel)."""
    return F.adaptive_avg_pool2d(mask, features.shape[-2:]).to(features.dtype)


def keep(masks: list) -> torch.Tensor:
    """(1, 1, H, W): where the gradient counts, the union of the masks (1 where any is white)."""
    return torch.stack(masks).sum(dim=0).clamp(0, 1)


def area(mask: torch.Tensor) -> float:
    """The mask's share of the picture as its masked Gram matrix sees it (mean of mask^2)."""
    return float((mask.float() ** 2).mean())


def style_loss(feats: dict, regions: list, weights: dict, norm: str, areas: dict) -> torch.Tensor:
    """sum over regions r and layers l of w_l * layer_style_loss(F_l * m_rl, a_rl * G_rl) / a_rl:
    feats {layer: (1, C, h, w)}, regions [(mask (1, 1, H, W), {layer: the style's Gram})], a_rl the
    mask's area at layer l (memoised in `areas`; a region too small to reach a layer is skipped)."""
    total = torch.zeros((), device=next(iter(feats.values())).device)
    for r, (mask, grams) in enumerate(regions):
        for layer, w in weights.items():
            m = at_features(mask, feats[layer])
            a = areas.setdefault((r, layer), area(m))
            if w and a > 0:
                total = total + w * losses.layer_style_loss(feats[layer] * m, grams[layer] * a, norm) / a
    return total
