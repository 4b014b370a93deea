"""The Gatys et al. losses: content (feature MSE), style (Gram MSE), total variation.

Two normalisations of the style term, chosen by StyleConfig.gram_norm (F = one layer's
activations reshaped to (C, H*W)):

    "seed"             G = F F^T (not normalised)
                       style_l = mean((G_target - G_style)^2) / (C*H*W)
                       The Udacity notebook the seed comes from; its weights (content 1,
                       style 1e6, conv1_1..conv5_1 = 1 .. 0.1) were tuned for this on VGG19.
                       A layer's term grows with C*H*W (bigger images, earlier layers).
    "size_independent" G = F F^T / (C*H*W)
                       style_l = mean((G_target - G_style)^2)
                       The PyTorch tutorial's: each layer's term is C*H*W times smaller than
                       the seed's, the same at any image size, and the early layers lose
                       the dominance they had.

    content = mean((F_target - F_content)^2)        over all C*H*W entries (both)
    style   = sum_l w_l * style_l
    tv      = mean |x[i+1,j] - x[i,j]| + mean |x[i,j+1] - x[i,j]|   (anisotropic, L1)

All of them are computed in float32 with autocast off, even when the backbone ran in
bf16/fp16 (a Gram matrix sums H*W products: bf16 would round them away).
"""
import contextlib

import torch
import torch.nn.functional as F

from .config import GRAM_NORMS


def _fp32(t: torch.Tensor):
    """A no-autocast region on t's device, so the matmuls below stay in float32 (a device with
    no autocast at all, like 'meta', needs none)."""
    if not torch.amp.is_autocast_available(t.device.type):
        return contextlib.nullcontext()
    return torch.autocast(t.device.type, enabled=False)


def gram_matrix(features: torch.Tensor, norm: str = "size_independent") -> torch.Tensor:
    """(N, C, H, W) activations -> (N, C, C) Gram matrices in fp32: F F^T, divided by C*H*W
    unless norm="seed"."""
    n, c, h, w = features.shape
    with _fp32(features):
        flat = features.float().reshape(n, c, h * w)
        g = flat @ flat.transpose(1, 2)
    return scaled_gram(g, c * h * w, norm)


def scaled_gram(g: torch.Tensor, chw: int, norm: str) -> torch.Tensor:
    """F F^T (N, C, C) of a layer of C*H*W values -> its Gram matrix under `norm` (tiles.py sums
    F F^T over tiles, then scales by the whole layer's C*H*W)."""
    return g if norm == "seed" else g / chw


def content_loss(target: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of two (N, C, H, W) activations (a scalar)."""
    with _fp32(target):
        return F.mse_loss(target.float(), content.float())


def layer_style_loss(features: torch.Tensor, style_gram: torch.Tensor, norm: str = "size_independent") -> torch.Tensor:
    """One layer's style term (unweighted): features (N, C, H, W), style_gram (N, C, C) made with
    the same norm. A scalar."""
    if norm not in GRAM_NORMS:
        raise ValueError(f"unknown gram_norm {norm!r}; use one of {', '.join(GRAM_NORMS)}")
    _, c, h, w = features.shape
    return gram_loss(gram_matrix(features, norm), style_gram, c * h * w, norm)


def gram_loss(gram: torch.Tensor, style_gram: torch.Tensor, chw: int, norm: str = "size_independent") -> torch.Tensor:
    """One layer's style term from its Gram matrix (N, C, C), both made with `norm`, for a layer of
    chw = C*H*W values (the seed's loss divides by it). A scalar."""
    with _fp32(gram):
        mse = F.mse_loss(gram.float(), style_gram.float())
    return mse / chw if norm == "seed" else mse


def style_loss(target_feats: dict, style_grams: dict, weights: dict, norm: str = "size_independent") -> torch.Tensor:
    """sum_l weights[l] * layer_style_loss(target_feats[l], style_grams[l], norm); a scalar.

    target_feats: {layer: (N, C, H, W)}; style_grams: {layer: (N, C, C)}; weights: {layer: w}.
    """
    total = torch.zeros((), device=next(iter(target_feats.values())).device)
    for layer, w in weights.items():
        if w:
            total = total + w * layer_style_loss(target_feats[layer], style_grams[layer], norm)
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Anisotropic L1 total variation of (N, 3, H, W): mean vertical + mean horizontal |diff|."""
    image = image.float()
    dv = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dh = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dv + dh
