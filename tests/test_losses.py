import torch

from nst_helpers.losses import content_loss, gram_matrix, style_loss, total_variation


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
