"""Colour statistics transfer: give one image the mean and covariance of another's RGB pixels.

    x' = A (x - mu_x) + mu_y,   A = Sy^(1/2) Sx^(-1/2)   (symmetric square roots)

so that x' has exactly y's pixel mean mu_y and covariance Sy, while its structure (every
pixel's position relative to the others) is x's. Used to start an optimisation from the
photo repainted in the painting's palette: the optimiser then spends its steps on strokes
and texture instead of slowly shifting every pixel's colour.
"""
import torch


def _sqrtm(cov: torch.Tensor, inverse: bool = False, eps: float = 1e-5) -> torch.Tensor:
    """Symmetric (inverse) square root of a (3, 3) covariance via its eigendecomposition."""
    vals, vecs = torch.linalg.eigh(cov)
    vals = vals.clamp_min(eps)
    return vecs @ torch.diag(vals ** (-0.5 if inverse else 0.5)) @ vecs.T


def match_colour(image: torch.Tensor, reference: torch.Tensor) -> torch.Tensor:
    """(1, 3, H, W) image with the pixel mean and covariance of (1, 3, h, w) reference, in [0, 1]."""
    x = image.double().reshape(3, -1)
    y = reference.double().reshape(3, -1).to(x.device)
    mx, my = x.mean(1, keepdim=True), y.mean(1, keepdim=True)
    cx, cy = torch.cov(x), torch.cov(y)
    a = _sqrtm(cy) @ _sqrtm(cx, inverse=True)
    out = a @ (x - mx) + my
    return out.reshape(image.shape).clamp(0, 1).to(image.dtype)
