import torch

from nst_helpers.core.colour import match_colour


def _stats(img):
    x = img.double().reshape(3, -1)
    return x.mean(1), torch.cov(x)


def test_match_colour_gives_the_references_mean_and_covariance():
    torch.manual_seed(0)
    image = torch.rand(1, 3, 40, 30) * 0.4 + 0.3
    mix = torch.tensor([[0.5, 0.2, 0.0], [0.1, 0.3, 0.1], [0.0, 0.1, 0.2]])
    reference = (torch.einsum("ij,njhw->nihw", mix, torch.rand(1, 3, 20, 50)) + 0.2).clamp(0, 1)
    out = match_colour(image, reference)
    (m1, c1), (m2, c2) = _stats(out), _stats(reference)
    assert out.shape == image.shape and out.min() >= 0 and out.max() <= 1
    assert torch.allclose(m1, m2, atol=1e-4) and torch.allclose(c1, c2, atol=1e-4)


def test_match_colour_keeps_the_structure():
    """An affine colour map: pixels keep their order along any direction, so edges stay where they were."""
    torch.manual_seed(1)
    image = torch.rand(1, 3, 16, 16) * 0.5 + 0.25
    out = match_colour(image, image * 0.5 + 0.1)
    assert torch.allclose(out, image * 0.5 + 0.1, atol=1e-4)  # the reference is an affine map of the image
