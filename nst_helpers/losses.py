"""The Gatys et al. losses: content (feature MSE), style (Gram MSE), total variation.

Normalisation (the seed names the losses but not their scaling; we use the PyTorch
tutorial's, for which the seed's weights, content 1 and style 1e6, are the usual ones):
    F       = activations of one layer reshaped to (C, H*W)
    G(F)    = F F^T / (C*H*W)                      (C, C); independent of image size
    content = mean((F_target - F_content)^2)        over all C*H*W entries
    style   = sum_l w_l * mean((G_target,l - G_style,l)^2)   over the C_l^2 entries
    tv      = mean |x[i+1,j] - x[i,j]| + mean |x[i,j+1] - x[i,j]|   (anisotropic, L1)
All of them are computed in float32 even when the backbone ran in bf16/fp16.
"""
import torch
import torch.nn.functional as F


def gram_matrix(features: torch.Tensor) -> torch.Tensor:
    """(N, C, H, W) activations -> (N, C, C) Gram matrices, normalised by C*H*W, in fp32."""
    n, c, h, w = features.shape
    flat = features.float().reshape(n, c, h * w)
    return flat @ flat.transpose(1, 2) / (c * h * w)


def content_loss(target: torch.Tensor, content: torch.Tensor) -> torch.Tensor:
    """Mean squared difference of two (N, C, H, W) activations (a scalar)."""
    return F.mse_loss(target.float(), content.float())


def style_loss(target_feats: dict, style_grams: dict, weights: dict) -> torch.Tensor:
    """sum_l weights[l] * mean((gram(target_feats[l]) - style_grams[l])^2); a scalar.

    target_feats: {layer: (N, C, H, W)}; style_grams: {layer: (N, C, C)}; weights: {layer: w}.
    """
    total = torch.zeros((), device=next(iter(target_feats.values())).device)
    for layer, w in weights.items():
        if w:
            total = total + w * F.mse_loss(gram_matrix(target_feats[layer]), style_grams[layer])
    return total


def total_variation(image: torch.Tensor) -> torch.Tensor:
    """Anisotropic L1 total variation of (N, 3, H, W): mean vertical + mean horizontal |diff|."""
    image = image.float()
    dv = (image[..., 1:, :] - image[..., :-1, :]).abs().mean()
    dh = (image[..., :, 1:] - image[..., :, :-1]).abs().mean()
    return dv + dh
