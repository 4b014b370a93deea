"""The loss of one run at one scale, as an object: the targets are computed once from the
content and style images, then `objective(image)` gives the weighted total and its parts.

    total = content_weight * content + style_weight * style_scale * style + tv_weight * tv_scale * tv

style_scale is the backbone's factor for the config's Gram normalisation (VGG19: 1, the
reference the seed's weights were tuned on; other backbones are calibrated, see
benchmarks/calibrate_style_scale.py). tv_scale is the backbone's content term against
EfficientNet-Lite0's on the same images (Lite: 1): total variation is measured on the pixels,
the content term on the backbone's activations, so one tv_weight smooths alike on every backbone.
"""
import contextlib

import torch

from . import losses
from . import masks as masks_mod
from ..backbones.layers import resolve_layers
from .config import StyleConfig


def autocast_for(device: torch.device, enabled: bool):
    """bf16 autocast on CPU/CUDA with bf16 (fp16 otherwise); a no-op when disabled or on a
    CPU without native bf16 (there it would be emulated, slower than fp32)."""
    if not enabled or (device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast(device.type, dtype=torch.float16 if device.type == "mps" else torch.bfloat16)


def nhwc(image: torch.Tensor) -> torch.Tensor:
    """channels_last copy: EfficientNet-Lite0 steps about a fifth faster on a CPU, VGG19 no slower."""
    return image.contiguous(memory_format=torch.channels_last)


def style_scale(net, norm: str) -> float:
    """The backbone's style-loss factor for Gram normalisation `norm` (see losses.GRAM_NORMS):
    net.style_scales[norm], calibrated per normalisation; a backbone without that table (a
    stand-in, a user's own) uses its single style_scale for both."""
    return (getattr(net, "style_scales", None) or {}).get(norm, net.style_scale)


def tv_scale(net) -> float:
    """The backbone's total-variation factor (1 where it has none: the Lite networks, a user's own)."""
    return getattr(net, "tv_scale", 1.0)


def style_layer_weights(net, cfg: StyleConfig) -> dict:
    """{backbone layer: weight}: the config's (VGG19-named) layer weights in the backbone's names;
    two preset layers that map to one backbone layer add up."""
    out = {}
    for seed_name, w in cfg.style_layers.items():
        own = resolve_layers(net, [seed_name])[0]
        out[own] = out.get(own, 0.0) + w
    return out


class StyleObjective:
    """Weighted content + style (+ TV) loss for images of the size of `content`/`style`.

    content, style: (1, 3, H, W) and (1, 3, h, w) in [0, 1] on the net's device (the caller
    resizes the style to the content's size, times the stroke size). Targets are computed without
    grad; Gram matrices in fp32. cfg.adaptive_weights "initial": see adapt_weights. masks: one
    (1, 1, H, W) per style image (masks.py), each style then held to its region. extra_loss: a caller's
    own term f(image (1, 3, H, W)) -> 0-dim tensor, added to the total as it is (video/: the temporal loss).
    """

    def __init__(self, net, cfg: StyleConfig, content: torch.Tensor, style, masks: list | None = None, extra_loss=None):
        self.net, self.cfg, self.extra_loss = net, cfg, extra_loss
        self.amp = lambda: autocast_for(content.device, cfg.mixed_precision)
        self.content_layer = resolve_layers(net, [cfg.content_layer])[0]
        self.style_weights = style_layer_weights(net, cfg)
        self.layers = sorted({self.content_layer, *self.style_weights}, key=net.layer_names.index)
        self.style_scale, self.tv_scale = style_scale(net, cfg.gram_norm), tv_scale(net)
        self.content_target = self.content_features(content)
        styles = style if isinstance(style, (list, tuple)) else [style]
        blend = cfg.style_blend or [1.0] * len(styles)
        grams = [(w, self.target_grams(content, s)) for w, s in zip(blend, styles) if w > 0]
        # several styles: their Gram matrices blend (the statistics, not the images)
        self.style_grams = {k: sum(w * g[k] for w, g in grams) / sum(w for w, _ in grams) for k in grams[0][1]}
        if cfg.adaptive_weights == "initial":
            self.style_weights = self.adapt_weights(content)
        # masks (masks.py): one region per style image, its Gram matched there; None: the whole picture
        self.regions = None if masks is None else [(m, g) for m, (_, g) in zip(masks, grams)]   # no blend with masks
        self.keep = None if masks is None else masks_mod.keep(masks)   # where the gradient counts
        self.areas = {}

    def content_features(self, image: torch.Tensor) -> torch.Tensor:
        """The content layer's activations (1, C, h, w) for image (1, 3, H, W), fp32, without grad."""
        with torch.no_grad(), self.amp():
            return self.net(nhwc(image), [self.content_layer])[self.content_layer].float()

    def grams(self, image: torch.Tensor) -> dict:
        """{style layer: (its Gram matrix (1, C, C) under cfg.gram_norm, fp32, the layer's C*h*w)}
        for image (1, 3, H, W), without grad (tiles.TiledObjective sums them over tiles)."""
        with torch.no_grad():
            with self.amp():
                feats = self.net(nhwc(image), list(self.style_weights))
            return {k: (losses.gram_matrix(v, self.cfg.gram_norm), v[0].numel()) for k, v in feats.items()}

    def target_grams(self, content: torch.Tensor, style: torch.Tensor) -> dict:
        """{layer: the style image's Gram matrix}, fp32 (outside autocast, like the loss's own). The
        seed's Gram sums over positions: a style image of another size (stroke_size) is brought to
        the content's area, so that only the size of its strokes changes, not the loss's scale."""
        area = content.shape[-2] * content.shape[-1] / (style.shape[-2] * style.shape[-1])
        factor = area if self.cfg.gram_norm == "seed" else 1.0
        return {k: g * factor for k, (g, _) in self.grams(style).items()}

    def layer_terms(self, image: torch.Tensor) -> dict:
        """{backbone layer: its unweighted style term for image (1, 3, H, W)}, without grad."""
        grams = self.grams(image)
        return {k: losses.gram_loss(grams[k][0], self.style_grams[k], grams[k][1], self.cfg.gram_norm).item()
                for k in self.style_weights}

    def adapt_weights(self, content: torch.Tensor) -> dict:
        """Adaptive style weights (the seed's future work): each layer's weight divided by its term
        for the photo, so that at the photo every layer's share of the style term is its weight's
        share, whatever the layer's own scale (which differs by orders of magnitude across layers,
        sizes, pairs and backbones), and rescaled so that the style term there is what it was. A pure
        function of the photo and the painting: a resumed run computes the same weights."""
        terms = self.layer_terms(content)
        before = sum(w * terms[k] for k, w in self.style_weights.items())
        share = {k: w / max(terms[k], 1e-30) for k, w in self.style_weights.items()}
        after = sum(share[k] * terms[k] for k in share) or 1.0
        return {k: v * before / after for k, v in share.items()}

    def __call__(self, image: torch.Tensor) -> tuple[torch.Tensor, dict]:
        """image (1, 3, H, W) in [0, 1] -> (weighted total, {content, style, tv} unweighted
        except that style includes style_scale and tv tv_scale, and extra with extra_loss), all 0-dim tensors."""
        cfg = self.cfg
        with self.amp():
            feats = self.net(nhwc(image), self.layers)
        c = losses.content_loss(feats[self.content_layer], self.content_target)
        s = (losses.style_loss(feats, self.style_grams, self.style_weights, cfg.gram_norm) if self.regions is None else
             masks_mod.style_loss(feats, self.regions, self.style_weights, cfg.gram_norm, self.areas)) * self.style_scale
        tv = losses.total_variation(image) * self.tv_scale if cfg.tv_weight else torch.zeros((), device=image.device)
        total = cfg.content_weight * c + cfg.style_weight * s + cfg.tv_weight * tv
        if self.extra_loss is None:
            return total, {"content": c, "style": s, "tv": tv}
        extra = self.extra_loss(image)
        return total + extra, {"content": c, "style": s, "tv": tv, "extra": extra}


def layer_balance(net, cfg: StyleConfig, image: torch.Tensor, style: torch.Tensor) -> list[dict]:
    """Each style layer's weighted term for `image` against `style` (both (1, 3, H, W), same size),
    under both Gram normalisations: [{layer, own, chw, seed, size_independent, seed_share,
    size_independent_share}], the shares being fractions of each normalisation's style total.
    Shows what the normalisation does to the balance between layers (notebook 00)."""
    weights = style_layer_weights(net, cfg)
    own_of = {resolve_layers(net, [name])[0]: name for name in cfg.style_layers}
    with torch.no_grad():
        feats = net(nhwc(image), list(weights))
        targets = net(nhwc(style), list(weights))
    rows = []
    for own, w in weights.items():
        _, c, h, wd = feats[own].shape
        row = {"layer": own_of[own], "own": own, "chw": c * h * wd}
        for norm in ("seed", "size_independent"):
            g = losses.gram_matrix(targets[own], norm)
            row[norm] = w * style_scale(net, norm) * losses.layer_style_loss(feats[own], g, norm).item()
        rows.append(row)
    for norm in ("seed", "size_independent"):
        total = sum(r[norm] for r in rows) or 1.0
        for r in rows:
            r[f"{norm}_share"] = r[norm] / total
    return rows
