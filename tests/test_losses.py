import pytest
import torch

from nst_helpers.core.losses import content_loss, gram_matrix, layer_style_loss, style_loss, total_variation


def test_gram_matches_an_explicit_loop():
    torch.manual_seed(0)
    f = torch.randn(2, 3, 4, 5)
    g = gram_matrix(f)
    n, c, h, w = f.shape
    for b in range(n):
        for i in range(c):
            for j in range(c):
                s = sum(f[b, i, y, x] * f[b, j, y, x] for y in range(h) for x in range(w))
                assert torch.isclose(g[b, i, j], s / (c * h * w), atol=1e-6)
    assert torch.allclose(g, g.transpose(1, 2))


def test_gram_by_hand_and_fp32_from_bf16():
    f = torch.tensor([[[[1.0, 2.0]], [[3.0, 4.0]]]])  # C=2, H=1, W=2
    # F F^T = [[1+4, 3+8], [3+8, 9+16]] = [[5, 11], [11, 25]]; / (2*1*2)
    expected = torch.tensor([[[5.0, 11.0], [11.0, 25.0]]]) / 4
    assert torch.allclose(gram_matrix(f), expected)
    g16 = gram_matrix(f.bfloat16())
    assert g16.dtype == torch.float32 and torch.allclose(g16, expected)


def test_content_loss_is_mean_squared_difference():
    a = torch.tensor([[[[1.0, 2.0], [3.0, 4.0]]]])
    b = torch.tensor([[[[1.0, 0.0], [3.0, 1.0]]]])
    assert content_loss(a, b).item() == (0 + 4 + 0 + 9) / 4


def test_style_loss_is_weighted_sum_of_gram_mses():
    torch.manual_seed(1)
    feats = {"a": torch.randn(1, 4, 3, 3), "b": torch.randn(1, 8, 2, 2)}
    targets = {"a": torch.randn(1, 4, 4), "b": torch.randn(1, 8, 8)}
    weights = {"a": 0.7, "b": 0.2}
    expected = 0.0
    for k, w in weights.items():
        g = gram_matrix(feats[k])
        diff = 0.0
        for i in range(g.shape[1]):
            for j in range(g.shape[2]):
                diff += (g[0, i, j] - targets[k][0, i, j]) ** 2
        expected += w * diff / g.shape[1] ** 2
    assert torch.isclose(style_loss(feats, targets, weights), torch.tensor(float(expected)), rtol=1e-5)
    # zero weight means the layer does not count, not even if its target is garbage
    assert torch.isclose(style_loss(feats, {**targets, "b": targets["b"] * 1e9}, {"a": 0.7, "b": 0.0}),
                         style_loss(feats, targets, {"a": 0.7}))


def test_style_loss_is_zero_for_identical_images():
    f = {"x": torch.rand(1, 5, 6, 6)}
    assert style_loss(f, {"x": gram_matrix(f["x"])}, {"x": 1.0}).item() == 0.0


def test_total_variation_by_hand():
    img = torch.zeros(1, 3, 2, 2)
    img[..., 0, 0] = 1.0  # one bright corner pixel
    # vertical diffs: 3 channels x 1 x 2 entries, two of them 1 -> mean 3/6; horizontal the same
    assert torch.isclose(total_variation(img), torch.tensor(1.0))
    assert total_variation(torch.full((1, 3, 5, 5), 0.3)).item() == 0.0


def _seed_style_loss_by_the_formula(feats: dict, style_feats: dict, weights: dict) -> float:
    """The Udacity notebook's style loss, re-implemented with explicit loops:
    G = F F^T (F = activations as (C, H*W), not normalised); per layer
    w * mean((G_target - G_style)^2) / (C*H*W), summed over the layers."""
    total = 0.0
    for layer, w in weights.items():
        t, s = feats[layer][0].double(), style_feats[layer][0].double()
        c, h, wd = t.shape
        ft, fs = t.reshape(c, h * wd), s.reshape(c, h * wd)
        sq = 0.0
        for i in range(c):
            for j in range(c):
                gt = sum(float(ft[i, p] * ft[j, p]) for p in range(h * wd))
                gs = sum(float(fs[i, p] * fs[j, p]) for p in range(h * wd))
                sq += (gt - gs) ** 2
        total += w * (sq / (c * c)) / (c * h * wd)
    return total


def test_seed_style_loss_matches_the_udacity_formula():
    torch.manual_seed(2)
    shapes = {"conv1_1": (5, 4, 7), "conv3_1": (3, 6, 2), "conv5_1": (7, 2, 3)}  # non-square, several layers
    feats = {k: torch.randn(1, *v) for k, v in shapes.items()}
    style = {k: torch.randn(1, *v) for k, v in shapes.items()}
    weights = {"conv1_1": 1.0, "conv3_1": 0.5, "conv5_1": 0.1}
    grams = {k: gram_matrix(v, norm="seed") for k, v in style.items()}
    got = style_loss(feats, grams, weights, norm="seed").item()
    assert got == pytest.approx(_seed_style_loss_by_the_formula(feats, style, weights), rel=1e-5)


def test_seed_layer_term_is_chw_times_the_size_independent_one():
    """Each layer's seed term is C*H*W times the tutorial's: the balance between layers changes."""
    torch.manual_seed(3)
    f, s = torch.randn(1, 6, 5, 3), torch.randn(1, 6, 5, 3)
    seed = layer_style_loss(f, gram_matrix(s, "seed"), "seed")
    tut = layer_style_loss(f, gram_matrix(s, "size_independent"), "size_independent")
    assert seed.item() == pytest.approx(6 * 5 * 3 * tut.item(), rel=1e-5)


def test_gram_and_losses_stay_fp32_inside_autocast():
    """The run evaluates the losses inside autocast (bf16 on a CPU): the Gram matrices must not be
    computed in bf16, which would round away the small differences the loss is made of."""
    torch.manual_seed(4)
    f = torch.randn(1, 16, 32, 32)
    exact = gram_matrix(f.double()).float()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        g = gram_matrix(f)
        loss = style_loss({"a": f}, {"a": exact}, {"a": 1.0})
        c = content_loss(f, f + 1e-3)
    assert g.dtype == torch.float32 and loss.dtype == torch.float32 and c.dtype == torch.float32
    assert torch.allclose(g, exact, rtol=1e-5, atol=1e-6)  # bf16 would be off by ~1e-3 relative
    assert loss.item() < 1e-10 and c.item() == pytest.approx(1e-6, rel=1e-3)


def test_unknown_norm_is_refused():
    with pytest.raises(ValueError, match="gram_norm"):
        layer_style_loss(torch.zeros(1, 2, 2, 2), torch.zeros(1, 2, 2), "nonsense")
