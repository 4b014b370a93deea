"""The quality judge's numbers, checked against hand-made cases and independent computations."""
import pytest
import torch

from nst_helpers.runs import judge, metrics
from margins import above, below, seed


def test_lab_of_known_colours():
    """sRGB white, black and pure red in CIE Lab (D65), as published (e.g. Bruce Lindbloom's tables)."""
    rgb = torch.tensor([[1.0, 1.0, 1.0], [0.0, 0.0, 0.0], [1.0, 0.0, 0.0]]).T.reshape(1, 3, 3, 1)
    lab = judge.srgb_to_lab(rgb)[0, :, :, 0].T
    assert lab[0].tolist() == pytest.approx([100.0, 0.0, 0.0], abs=0.01)
    assert lab[1].tolist() == pytest.approx([0.0, 0.0, 0.0], abs=0.01)
    assert lab[2].tolist() == pytest.approx([53.24, 80.09, 67.20], abs=0.05)


def test_sliced_wasserstein_of_shifted_clouds():
    """Shifting a cloud by v moves every projection's quantiles by <v, d>: the distance is the
    mean |<v, d>| over the random unit directions, computed here independently."""
    torch.manual_seed(0)
    a = torch.randn(5000, 3, dtype=torch.float64)
    v = torch.tensor([3.0, 0.0, 4.0], dtype=torch.float64)
    gen = torch.Generator().manual_seed(0)
    dirs = torch.randn(3, 64, generator=gen, dtype=torch.float64)
    dirs = dirs / dirs.norm(dim=0, keepdim=True)
    assert metrics.sliced_wasserstein(a, a + v) == pytest.approx(float((v @ dirs).abs().mean()), rel=1e-6)
    assert metrics.sliced_wasserstein(a, a) == 0.0


def test_structure_and_noise_by_construction():
    torch.manual_seed(seed(1))
    photo = torch.rand(1, 3, 64, 96)
    assert judge.structure(photo, photo) == pytest.approx(1.0)
    assert judge.structure(photo * 0.5 + 0.2, photo) == pytest.approx(1.0, abs=1e-3)  # contrast changes keep edges
    below(abs(judge.structure(torch.rand(1, 3, 64, 96), photo)), 0.1, "|structure| of unrelated noise")      # none
    flat = torch.full((1, 3, 64, 96), 0.5)
    assert judge.laplacian_energy(flat) == 0.0
    assert judge.noise(photo, photo) == pytest.approx(1.0)


def test_style_distance_ends(effnet):
    """0 for the style image itself (same statistics), 1 for the photo (by definition)."""
    torch.manual_seed(2)
    photo, style = torch.rand(1, 3, 96, 128), torch.rand(1, 3, 96, 128).pow(3)
    style_net = _Lite0AsJudge(effnet)
    assert judge.style_distance(photo, photo, style, style_net) == pytest.approx(1.0)
    assert judge.style_distance(judge.long_side(style), photo, style, style_net) == pytest.approx(0.0, abs=1e-6)


class _Lite0AsJudge(torch.nn.Module):
    """Lite0 answering to the judge's layer names (stem, block2, block5, block10, block16 -> head)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, image, layers):
        names = {n: ("head" if n == "block16" else n) for n in layers}
        out = self.net(image, list(names.values()))
        return {n: out[own] for n, own in names.items()}
