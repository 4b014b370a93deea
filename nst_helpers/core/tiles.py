"""Big pictures in overlapping tiles, with the exact loss and gradient of the whole image.

The style term needs the whole image's Gram matrices, but a Gram matrix is a sum over positions
(G = F F^T = sum over tiles of F_t F_t^T), and so is the content term. So one evaluation is:

    pass 1 (no grad)  per tile: the features of its interior, added into each style layer's
                      F F^T and the content term's sum of squared errors;
    between           dL/dG per style layer, from the whole image's Gram matrices;
    pass 2 (grad)     per tile again: the surrogate sum_l <dL/dG_l, G_tile_l> + the tile's share
                      of the content term, backward, and the crop's input gradient ADDED into
                      the image's (overlapping halos add up; that is the chain rule, not a blend).

Only one tile and its halo ever goes through the backbone at a time, and the halo (the reach of
the deepest layer's receptive field, rounded up to its stride) makes every interior feature equal
the whole image's: the loss and gradient agree with StyleObjective's to float rounding (tests:
tests/test_tiles.py). Tile origins lie on the deepest layer's stride grid, so every pooling window
sees what it sees in the whole image; at the border the crop ends where the image does and the
zero padding is the same. Total variation is cheap and is computed on the whole image.
"""
import functools
import math

import torch
from torch import nn

from . import losses
from ..backbones.layers import VGG19_LAYERS
from ..backbones.vgg import VGG19Features
from .config import ConfigError
from .objective import StyleObjective, nhwc

BACKBONES = ("vgg19", "vgg19_original")   # the backbones that run in tiles: check() accepts their nets


def _op(name: str) -> tuple[int, int, int]:
    """(kernel, stride, padding) of a VGG19 layer, as VGG19Features builds it from VGG19_CFG."""
    return (3, 1, 1) if name.startswith("conv") else (2, 2, 0) if name.startswith("pool") else (1, 1, 0)


@functools.cache
def _field(name: str) -> tuple[int, int, int]:
    """(stride, start, size) of VGG19 layer `name`'s receptive field: position i of its map sees
    input pixels [i * stride + start, i * stride + start + size)."""
    stride, start, size = 1, 0, 1
    for layer in VGG19_LAYERS[: VGG19_LAYERS.index(name) + 1]:
        k, s, p = _op(layer)
        size, start, stride = size + (k - 1) * stride, start - p * stride, stride * s
    return stride, start, size


def reach(layers) -> tuple[int, int]:
    """(grid, halo) in px for VGG19 `layers`: the deepest one's stride (tile origins on it keep the
    pooling windows aligned) and how far past a tile its interior features look, on either side,
    rounded up to the grid. conv5_1: (16, 80), its receptive field being 156 px."""
    stride, start, size = _field(max(layers, key=VGG19_LAYERS.index))
    radius = max(-start, start + size - stride)   # left of a stride cell, right of it
    return stride, math.ceil(radius / stride) * stride


def spans(n: int, tile: int, grid: int, halo: int) -> list[tuple[int, int, int, int]]:
    """Along one side of n px: [(a, b, c, d)], each tile's interior [a, b) and crop [c, d) (the
    interior plus the halo, clipped to the image). A remainder under one grid cell joins the tile
    before it, so every interior holds at least one position of every layer."""
    starts = [a for a in range(0, n, tile) if a == 0 or n - a >= grid]
    ends = starts[1:] + [n]
    return [(a, b, max(a - halo, 0), min(b + halo, n)) for a, b in zip(starts, ends)]


def tiles(shape, tile: int, grid: int, halo: int) -> list[tuple]:
    """[(row span, column span)] of an image of (h, w) shape, row by row (see spans)."""
    return [(r, c) for r in spans(shape[0], tile, grid, halo) for c in spans(shape[1], tile, grid, halo)]


def largest_crop(shape, tile: int, layers) -> int:
    """Pixels of the largest crop the backbone sees in tiles of `tile` px for VGG19 `layers`."""
    grid, halo = reach(layers)
    side = lambda n: max(d - c for _, _, c, d in spans(n, tile, grid, halo))  # noqa: E731
    return side(shape[0]) * side(shape[1])


def _spec(module: nn.Module):
    """(kernel, stride, padding) of a module as _op spells a layer; None for anything else."""
    if isinstance(module, nn.ReLU):
        return 1, 1, 0
    if isinstance(module, nn.Conv2d) and module.dilation == (1, 1) and len(set(module.kernel_size)) == 1:
        return module.kernel_size[0], module.stride[0], module.padding[0]
    if isinstance(module, (nn.MaxPool2d, nn.AvgPool2d)) and not module.ceil_mode:
        return module.kernel_size, module.stride, module.padding
    return None


def check(cfg, net, extra_loss=None) -> None:
    """Refuse a tiled run whose tiles could not be exact: a backbone other than VGG19 (its strides
    and receptive fields are not known here), a tile size off the deepest layer's grid, or a
    caller's extra_loss (run()'s hook, evaluated on the whole image only)."""
    if not cfg.tile_size:
        return
    if extra_loss is not None:
        raise ConfigError("tile_size", "does not take run()'s extra_loss (a term of the whole image); set it to 0")
    if not (isinstance(net, VGG19Features) and all(_spec(m) == _op(n) for n, m in zip(VGG19_LAYERS, net.features))):
        raise ConfigError("tile_size", f"tiles need a VGG19 backbone (its strides and receptive fields are known), "
                                       f"not {getattr(net, 'name', type(net).__name__)}; use backbone vgg19 or "
                                       "vgg19_original, or tile_size 0 (off)")
    layers = [cfg.content_layer, *cfg.style_layers]
    grid, _ = reach(layers)
    if cfg.tile_size % grid:
        deepest, fit = max(layers, key=VGG19_LAYERS.index), cfg.tile_size // grid * grid or grid
        raise ConfigError("tile_size", f"{cfg.tile_size} is not a multiple of {grid} px, the stride of {deepest}; "
                                       f"use e.g. {fit}")


def in_tiles(cfg, shape) -> bool:
    """Whether a level of (h, w) `shape` runs in tiles: cfg.tile_size is set and the level does
    not fit in one tile (the coarse levels that do run whole, as StyleObjective)."""
    return bool(cfg.tile_size) and len(tiles(shape, cfg.tile_size, *reach([cfg.content_layer, *cfg.style_layers]))) > 1


def evaluate(objective, z: torch.Tensor, std: torch.Tensor, mean: torch.Tensor) -> tuple:
    """(total, parts) at x = z * std + mean, with dtotal/dz in z.grad: one backward through the
    whole image, or TiledObjective's gradient (dL/dz = dL/dx * std, as x = z * std + mean); with
    masks, the gradient is zero outside them."""
    if isinstance(objective, TiledObjective):
        total, parts, grad = objective.value_and_grad((z * std + mean).detach())
        z.grad = grad * std
        return total, parts
    total, parts = objective(z * std + mean)
    total.backward()
    if objective.keep is not None:   # masks (masks.py): outside every one the picture keeps its start
        z.grad.mul_(objective.keep)
    return total, parts


class TiledObjective(StyleObjective):
    """StyleObjective's loss, targets and gradient, computed tile by tile (see the module docstring).

    value_and_grad(x) is the evaluation a run uses; calling the object itself evaluates the
    whole image at once, as StyleObjective does. content, style: as StyleObjective's.
    """

    def __init__(self, net, cfg, content: torch.Tensor, style):
        check(cfg, net)
        self.tile = cfg.tile_size
        self.grid, self.halo = reach([cfg.content_layer, *cfg.style_layers])
        super().__init__(net, cfg, content, style)   # its targets come from the tiled hooks below

    def _tiled(self, image: torch.Tensor, layers: list, grad: bool = False):
        """Per tile: (box, where, crop, {layer: the interior's features}). box: the crop's (rows,
        cols) slices in the image; crop (1, 3, h', w'), a leaf with grad when `grad`; where(name,
        crop=True): the interior's (rows, cols) slices in layer `name`'s map of the crop, or of the
        whole image (crop=False)."""
        shape = image.shape[-2:]
        for spans_yx in tiles(shape, self.tile, self.grid, self.halo):
            def where(name, crop=True, spans_yx=spans_yx):
                s = _field(name)[0]   # the last tile keeps the rest of the map: the image may end mid-cell
                return tuple(slice((a - c * crop) // s, None if b == n else (b - c * crop) // s)
                             for (a, b, c, _), n in zip(spans_yx, shape))
            box = tuple(slice(c, d) for _, _, c, d in spans_yx)
            crop = image[(..., *box)].detach().requires_grad_(grad)
            with torch.set_grad_enabled(grad), self.amp():
                feats = self.net(nhwc(crop), layers)
            yield box, where, crop, {k: v[(..., *where(k))] for k, v in feats.items()}

    def content_features(self, image: torch.Tensor) -> torch.Tensor:
        """The content layer's map (1, C, h, w) of the whole image, fp32, assembled from the tiles."""
        parts = [f[self.content_layer].float() for *_, f in self._tiled(image, [self.content_layer])]
        cols = len(spans(image.shape[-1], self.tile, self.grid, self.halo))
        return torch.cat([torch.cat(parts[i:i + cols], -1) for i in range(0, len(parts), cols)], -2)

    def grams(self, image: torch.Tensor) -> dict:
        """StyleObjective.grams, tile by tile: F F^T summed over the tiles, scaled by the whole
        layer's C*h*w."""
        sums, _ = self._sums(image, list(self.style_weights), content=False)
        return {k: (losses.scaled_gram(g, n, self.cfg.gram_norm), n) for k, (g, n) in sums.items()}

    def _content_share(self, feat: torch.Tensor, where) -> torch.Tensor:
        """A tile's part of the content term: its squared errors over the whole layer's count
        (content_loss is a mean over the whole map)."""
        target = self.content_target[(..., *where(self.content_layer, crop=False))]
        return losses.content_loss(feat, target) * (feat.numel() / self.content_target.numel())

    def _sums(self, image: torch.Tensor, layers: list, content: bool) -> tuple[dict, torch.Tensor]:
        """Pass 1, without grad: ({style layer: (F F^T (1, C, C) over the whole image, its C*h*w)},
        the content term when `content`, else 0)."""
        sums, term = {}, torch.zeros((), device=image.device)
        for _, where, _, feats in self._tiled(image, layers):
            for k in self.style_weights:
                g, n = sums.get(k, (0, 0))
                sums[k] = (g + losses.gram_matrix(feats[k], "seed"), n + feats[k][0].numel())
            if content:
                term = term + self._content_share(feats[self.content_layer], where)
        return sums, term

    def _style_grads(self, sums: dict) -> tuple[torch.Tensor, dict]:
        """(the style term, style_scale included, {layer: (d(style_weight * style)/dG, C*h*w)}),
        G being the layer's Gram matrix under cfg.gram_norm (losses.style_loss, on Gram leaves)."""
        norm, leaves = self.cfg.gram_norm, {}
        with torch.enable_grad():
            s = torch.zeros((), device=self.content_target.device)
            for k, w in self.style_weights.items():
                if w:
                    g, n = sums[k]
                    leaves[k] = losses.scaled_gram(g, n, norm).requires_grad_(True)
                    s = s + w * losses.gram_loss(leaves[k], self.style_grams[k], n, norm)
            s = s * self.style_scale
            grads = torch.autograd.grad(self.cfg.style_weight * s, list(leaves.values())) if leaves else ()
        return s.detach(), {k: (d, sums[k][1]) for k, d in zip(leaves, grads)}

    def value_and_grad(self, x: torch.Tensor) -> tuple[torch.Tensor, dict, torch.Tensor]:
        """x (1, 3, H, W) in [0, 1] -> (total, {content, style, tv}, dtotal/dx (1, 3, H, W)): what
        StyleObjective(x) and its backward give, from one tile and its halo at a time."""
        cfg = self.cfg
        sums, c = self._sums(x, self.layers, content=True)
        s, dgram = self._style_grads(sums)
        grad = torch.zeros_like(x)
        for box, where, crop, feats in self._tiled(x, self.layers, grad=True):
            with torch.enable_grad():   # the surrogate: its gradient is the tile's share of the whole's
                part = cfg.content_weight * self._content_share(feats[self.content_layer], where)
                for k, (d, n) in dgram.items():
                    tile_gram = losses.scaled_gram(losses.gram_matrix(feats[k], "seed"), n, cfg.gram_norm)
                    part = part + (d * tile_gram).sum()
            grad[(..., *box)] += torch.autograd.grad(part, crop)[0]
        tv = torch.zeros((), device=x.device)
        if cfg.tv_weight:
            leaf = x.detach().requires_grad_(True)
            with torch.enable_grad():
                tv = losses.total_variation(leaf) * self.tv_scale
            grad += torch.autograd.grad(cfg.tv_weight * tv, leaf)[0]
            tv = tv.detach()
        total = cfg.content_weight * c + cfg.style_weight * s + cfg.tv_weight * tv
        return total, {"content": c, "style": s, "tv": tv}, grad
