"""The speed work must not change results: BatchNorm folding, channels_last, the L-BFGS
evaluation memo and its restart each leave the numbers as they were (up to float rounding)."""
import pytest
import torch

from nst_helpers import preset, run
from nst_helpers.core import objective, optim
from nst_helpers.backbones.efficientnet import LAYER_NAMES, EfficientNetLite, load_efficientnet_lite, normalise
from margins import above, below


@pytest.fixture(scope="module")
def pair():
    return load_efficientnet_lite(0, fold=False), load_efficientnet_lite(0)


def test_folding_gives_the_same_activations_and_input_gradients(pair):
    plain, folded = pair
    assert not plain.folded and folded.folded
    x = torch.rand(1, 3, 72, 56, requires_grad=True)
    grads = []
    for net in pair:
        feats = net.features(normalise(x), LAYER_NAMES)
        sum(f.square().mean() for f in feats.values()).backward()
        grads.append(x.grad.clone())
        x.grad = None
        with torch.no_grad():
            ref = plain.features(normalise(x), LAYER_NAMES)
        for name in LAYER_NAMES:
            assert torch.allclose(feats[name], ref[name], rtol=1e-4, atol=1e-4), name
    # elementwise, a few values near zero differ in the last bits: compare the whole vector
    below((grads[0] - grads[1]).norm() / grads[0].norm(), 1e-3, "relative gradient difference, folded")   # 1.3e-4 on AVX2 or one thread


def test_folding_keeps_the_checkpoint_in_the_state_dict(pair):
    plain, folded = pair
    a, b = plain.state_dict(), folded.state_dict()
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    fresh = EfficientNetLite(0).eval().fold_batchnorm()  # random weights, folded ...
    fresh.load_state_dict(a, strict=True)               # ... then the checkpoint: refolded
    assert torch.equal(fresh._blocks[3]._project_conv.folded_weight, folded._blocks[3]._project_conv.folded_weight)
    conv, bn = plain._blocks[3]._project_conv, plain._blocks[3]._bn2  # w' = w * gamma / sqrt(var + eps)
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    torch.testing.assert_close(folded._blocks[3]._project_conv.folded_weight, conv.weight * scale.view(-1, 1, 1, 1))


def test_channels_last_gives_the_same_losses(effnet, tiny_pair, monkeypatch):
    cfg = preset("baseline", steps=3, size=64, snapshot_every=3, backbone="efficientnet_lite0")
    nhwc = run(*tiny_pair, cfg, backbone=effnet, progress=False)
    monkeypatch.setattr(objective, "nhwc", lambda image: image)  # plain NCHW
    nchw = run(*tiny_pair, cfg, backbone=effnet, progress=False)
    for a, b in zip(nhwc.history, nchw.history):
        assert a["total"] == pytest.approx(b["total"], rel=1e-4)
    assert torch.allclose(nhwc.image, nchw.image, atol=1e-4)


def test_lbfgs_evaluates_each_point_once(effnet, tiny_pair):
    """The line search's last point is where the next step starts: evaluated once, not twice."""
    calls = []

    class Counting(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.inner = effnet
            self.name, self.layer_names, self.layer_map = effnet.name, effnet.layer_names, effnet.layer_map
            self.style_scale, self.min_size = effnet.style_scale, effnet.min_size

        def forward(self, image, layers):
            calls.append(torch.is_grad_enabled())
            return self.inner(image, layers)

    cfg = preset("fast", steps=10, size=64, scales=1, scale_steps=[10], early_stop_window=0,
                 backbone="efficientnet_lite0")
    r = run(*tiny_pair, cfg, backbone=Counting(), progress=False)
    assert len(r.history) == 10
    assert sum(calls) < 2 * len(r.history)  # each step was >= 2 evaluations before the memo
    below(r.history[-1]["total"] / r.history[0]["total"], 0.5, "last / first loss, 10 L-BFGS steps")


def _rosenbrock_losses(opt, x, steps=100):
    def closure():
        opt.zero_grad()
        loss = (1 - x[0]) ** 2 + 100 * (x[1] - x[0] ** 2) ** 2
        loss.backward()
        return loss
    return [float(opt.step(closure).detach()) for _ in range(steps)]


def test_lbfgs_line_search_has_room_to_work():
    """torch's default max_eval (1 when max_iter=1) stalls L-BFGS at its first rejected step;
    with room for the line search it solves the Rosenbrock valley."""
    x = torch.tensor([-1.5, 2.0], requires_grad=True)
    losses = _rosenbrock_losses(optim.make_optimizer("lbfgs", [x], 1.0), x)
    assert losses[-1] < 1e-6 * losses[0]
    assert torch.allclose(x.detach(), torch.ones(2), atol=1e-3)


def test_lbfgs_restarts_after_a_failed_line_search():
    x = torch.tensor([1.0, -2.0], requires_grad=True)
    opt = optim.make_optimizer("lbfgs", [x], 1.0)

    def lying_closure():  # reports the gradient with the wrong sign: every step goes uphill
        opt.zero_grad()
        loss = x.square().sum()
        x.grad = -2 * x.detach()
        return loss.detach()

    opt.step(lying_closure)
    assert torch.equal(x.detach(), torch.tensor([1.0, -2.0]))  # no lower point found: not moved
    assert not opt.state[x]  # and the history is forgotten, so the next step starts afresh


def test_autocast_is_off_on_a_cpu_without_bf16(monkeypatch):
    monkeypatch.setattr(torch.ops.mkldnn, "_is_mkldnn_bf16_supported", lambda: False)
    with objective.autocast_for(torch.device("cpu"), True):
        y = torch.nn.functional.linear(torch.ones(2, 3), torch.ones(4, 3))
    assert y.dtype == torch.float32
