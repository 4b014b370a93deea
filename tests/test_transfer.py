import threading

import pytest
import torch

from nst_helpers import preset, run
from nst_helpers.core import losses, plan, transfer
from nst_helpers.core.devices import pick_device
from nst_helpers.core.objective import autocast_for
from nst_helpers.core.transfer import STD
from margins import above, below


def tiny(**kw):
    base = dict(steps=6, size=64, snapshot_every=2, backbone="efficientnet_lite0", gram_norm="size_independent")
    return preset(kw.pop("preset", "baseline"), **{**base, **kw})


def test_history_snapshots_and_result(effnet, tiny_pair):
    r = run(*tiny_pair, tiny(), backbone=effnet, progress=False)
    assert [h["step"] for h in r.history] == list(range(1, 7))
    assert set(r.history[0]) >= {"total", "content", "style", "tv", "lr", "elapsed", "size", "event"}
    assert sorted(r.snapshots) == [2, 4, 6]
    assert r.image.shape == (1, 3, 64, 64) and 0 <= r.image.min() and r.image.max() <= 1
    assert r.backbone == "efficientnet_lite0" and r.device == "cpu" and r.stop_reason == "completed"
    h = r.history[0]  # the recorded total is the weighted sum of the parts
    assert h["total"] == pytest.approx(h["content"] * 1 + h["style"] * 1e6, rel=1e-4)
    assert all(a["elapsed"] <= b["elapsed"] for a, b in zip(r.history, r.history[1:]))


def test_deterministic_for_a_seed(effnet, tiny_pair):
    a = run(*tiny_pair, tiny(init="noise", seed=3), backbone=effnet, progress=False)
    b = run(*tiny_pair, tiny(init="noise", seed=3), backbone=effnet, progress=False)
    c = run(*tiny_pair, tiny(init="noise", seed=4), backbone=effnet, progress=False)
    assert torch.equal(a.image, b.image)
    assert not torch.equal(a.image, c.image)


def test_first_adam_step_keeps_the_seeds_lr_meaning(effnet, tiny_pair):
    """Adam's first step moves every parameter by ~lr; in normalised units that is lr*std in pixels."""
    r = run(*tiny_pair, tiny(steps=1, snapshot_every=1), backbone=effnet, progress=False)
    moved = (r.image - tiny_pair[0]).abs().amax(dim=(0, 2, 3))
    assert torch.allclose(moved, 0.003 * STD.flatten(), rtol=0.02)


@pytest.mark.parametrize("optimizer, lr", [("adam", 0.05), ("lbfgs", 1.0)])
@pytest.mark.parametrize("schedule", ["constant", "cosine", "step", "plateau"])
def test_each_optimizer_and_schedule_lowers_the_style_transfer_loss(effnet, tiny_pair, optimizer, lr, schedule):
    r = run(*tiny_pair, tiny(optimizer=optimizer, lr=lr, lr_schedule=schedule, steps=8), backbone=effnet, progress=False)
    below(r.history[-1]["total"] / r.history[0]["total"], 0.7, f"last / first loss, {optimizer} {schedule}")


def test_image_stays_in_range_with_a_huge_lr(effnet, tiny_pair):
    r = run(*tiny_pair, tiny(lr=50.0, steps=3), backbone=effnet, progress=False)
    assert r.image.min() >= 0 and r.image.max() <= 1


def test_callbacks_every_n_steps_and_at_the_end(effnet, tiny_pair):
    calls = []
    run(*tiny_pair, tiny(steps=7), backbone=effnet, progress=False, callback_every=3,
        callbacks=[lambda step, row, img: calls.append((step, row["step"], tuple(img.shape)))])
    assert [c[0] for c in calls] == [3, 6, 7]
    assert all(c[0] == c[1] and c[2] == (1, 3, 64, 64) for c in calls)


def test_stop_event_ends_the_run_early(effnet, tiny_pair):
    stop = threading.Event()

    def press_stop(step, row, img):
        if step == 3:
            stop.set()

    r = run(*tiny_pair, tiny(steps=50), backbone=effnet, progress=False, callback_every=1,
            callbacks=[press_stop], stop_event=stop)
    assert len(r.history) == 3 and r.stop_reason == "stopped" and r.history[-1]["event"] == "stopped"


def test_keyboard_interrupt_returns_what_exists(effnet, tiny_pair):
    def interrupt(step, row, img):
        if step == 4:
            raise KeyboardInterrupt

    r = run(*tiny_pair, tiny(steps=50), backbone=effnet, progress=False, callback_every=1, callbacks=[interrupt])
    assert r.stop_reason == "interrupted" and len(r.history) == 4
    assert 4 in r.snapshots and r.image.shape == (1, 3, 64, 64)
    assert not torch.equal(r.image, tiny_pair[0])  # the four steps' work is kept


def test_multiscale_runs_coarse_to_fine_and_ends_at_the_requested_size(effnet, tiny_pair):
    content, style = tiny_pair
    cfg = tiny(scales=3, steps=9, size=96, scale_steps=[2, 3, 4])
    r = run(content, style, cfg, backbone=effnet, progress=False)
    assert [h["size"] for h in r.history] == [48] * 2 + [68] * 3 + [96] * 4
    assert r.image.shape[-2:] == (96, 96)
    assert plan.pyramid_sizes(96, 3) == [48, 68, 96]


def test_early_stopping_is_recorded(effnet, tiny_pair):
    # a huge tolerance means no step ever counts as an improvement
    r = run(*tiny_pair, tiny(steps=40, early_stop_window=3, early_stop_tol=0.99), backbone=effnet, progress=False)
    assert r.stop_reason == "early_stop" and len(r.history) == 4 and r.history[-1]["event"] == "early_stop"


def test_mixed_precision_runs_backbone_in_bf16_and_grams_in_fp32(effnet, tiny_pair):
    with autocast_for(torch.device("cpu"), True):
        feats = effnet(tiny_pair[0], ["stem", "block4"])
    # a CPU without native bf16 (no AVX512-BF16/AMX) would emulate it, slower than fp32: off there
    native = torch.ops.mkldnn._is_mkldnn_bf16_supported()
    assert feats["stem"].dtype == (torch.bfloat16 if native else torch.float32)
    assert losses.gram_matrix(feats["block4"]).dtype == torch.float32
    r = run(*tiny_pair, tiny(mixed_precision=True, steps=4), backbone=effnet, progress=False)
    below(r.history[-1]["total"] / r.history[0]["total"], 1, "last / first loss, mixed precision")


def test_pick_device_prefers_what_is_asked():
    assert pick_device("cpu").type == "cpu"
    assert pick_device().type in ("cpu", "cuda", "mps")


class _NaNGradient(torch.autograd.Function):
    """The identity, whose gradient is NaN: a finite loss with a poisoned gradient."""

    @staticmethod
    def forward(ctx, x):
        return x.clone()

    @staticmethod
    def backward(ctx, grad):
        return grad * float("nan")


@pytest.mark.parametrize("optimizer, lr, what", [("adam", 0.003, "loss"), ("adam", 0.003, "gradient"),
                                                 ("lbfgs", 1.0, "loss"), ("lbfgs", 1.0, "gradient")])
def test_nan_stops_the_run_and_keeps_the_last_finite_image(effnet, tiny_pair, monkeypatch, optimizer, lr, what):
    k, done = 3, []

    class Poisoned(transfer.StyleObjective):  # NaN from step k on (for L-BFGS: in its line search)
        def __call__(self, image):
            if len(done) < k - 1:
                return super().__call__(image)
            if what == "gradient":
                return super().__call__(_NaNGradient.apply(image))
            total, parts = super().__call__(image)
            return total * float("nan"), parts

    monkeypatch.setattr(transfer, "StyleObjective", Poisoned)
    r = run(*tiny_pair, tiny(optimizer=optimizer, lr=lr, steps=9, snapshot_every=1), backbone=effnet, progress=False,
            callbacks=[lambda step, row, img: done.append(step)], callback_every=1)
    end = k + transfer.MAX_RECOVERIES   # steps k, k+1, k+2 recover (back to the best image, damped); then it gives up
    assert r.stop_reason == "diverged" and len(r.history) == end
    assert [row["event"] for row in r.history[k - 1:]] == ["recovered"] * transfer.MAX_RECOVERIES + ["diverged"]
    assert (f"the {what} became NaN or infinite at step {end}, after {transfer.MAX_RECOVERIES} recoveries; "
            f"kept the image of step {end - 1}") in r.message
    assert torch.isfinite(r.image).all() and torch.equal(r.image, r.snapshots[end - 1])
    # every recovery went back to the best image whose loss was seen: step k-2's (step k-1's loss is the NaN)
    assert all(torch.equal(r.snapshots[s], r.snapshots[k - 2]) for s in range(k, end))


@pytest.mark.parametrize("optimizer, lr, how", [("adam", 0.003, "nan"), ("adam", 0.003, "jump"), ("lbfgs", 1.0, "nan")])
def test_a_blow_up_is_recovered_from_and_the_run_goes_on(effnet, tiny_pair, monkeypatch, optimizer, lr, how):
    """One bad step (a NaN loss, or a loss 10^6 times the best): the run goes back to the best image
    with a damped step, says so in the history, and completes with a finite image. (L-BFGS's jump is
    not tested this way: its line search rejects a worse point by itself.)"""
    calls, k = [], 3

    class OneBadStep(transfer.StyleObjective):
        def __call__(self, image):
            calls.append(1)
            total, parts = super().__call__(image)
            if len(calls) == first_bad[0]:
                return total * (float("nan") if how == "nan" else 1e6), parts
            return total, parts

    first_bad = [None]
    monkeypatch.setattr(transfer, "StyleObjective", OneBadStep)
    seen = []
    cfg = tiny(optimizer=optimizer, lr=lr, steps=8, snapshot_every=1, early_stop_window=0)

    def arm(step, row, image):  # the first evaluation of step k is the bad one
        seen.append(step)
        if step == k - 1:
            first_bad[0] = len(calls) + 1
    r = run(*tiny_pair, cfg, backbone=effnet, progress=False, callbacks=[arm], callback_every=1)
    events = [row["event"] for row in r.history]
    assert r.stop_reason == "completed" and len(r.history) == 8, (r.stop_reason, events)
    assert events[k - 1] == "recovered" and events.count("recovered") == 1, events
    assert torch.isfinite(r.image).all()
    assert r.history[k]["lr"] == pytest.approx(0.5 * r.history[k - 2]["lr"])   # damped from there on
