"""Checkpoint and resume in Python: a run interrupted anywhere (between steps, at a pyramid scale's
end, inside a step, by Ctrl-C, Stop or an exception in a callback) and resumed from its folder
ends with the image of a run never interrupted, bit for bit; the folder in between is
resumable but never taken for a finished run. The command line's part is in test_faults.py."""
import threading

import pytest
import torch

from nst_helpers import preset, resume, run
from nst_helpers.runs import folders as runs
from nst_helpers.runs import checkpoint
from nst_helpers.runs.checkpoint import ResumeError

CONFIGS = {  # two scales each (34 and 48 px), a checkpoint every 2 steps
    # the seed's optimiser, with a schedule whose state matters
    "adam": preset("baseline", size=48, steps=8, scales=2, scale_steps=[4, 4], snapshot_every=2, lr=0.05,
                   lr_schedule="cosine", backbone="efficientnet_lite0", gram_norm="size_independent"),
    # L-BFGS (history, memo, restarts) whose scales stop early, at steps 4 and 8 of 10
    "lbfgs": preset("fast", size=48, steps=10, scales=2, scale_steps=[5, 5], snapshot_every=2, early_stop_window=2,
                    early_stop_tol=0.5, lr_schedule="plateau", backbone="efficientnet_lite0"),
}


class Tripwire(torch.nn.Module):
    """The backbone, raising KeyboardInterrupt in its first forward pass with grad (inside a step)
    once `armed` says so: an interrupt that comes while z and the optimiser's state disagree."""

    def __init__(self, net, armed):
        super().__init__()
        self.inner, self.armed = net, armed
        for name in ("name", "layer_names", "layer_map", "style_scale", "style_scales", "min_size"):
            if hasattr(net, name):
                setattr(self, name, getattr(net, name))

    def forward(self, image, layers):
        if torch.is_grad_enabled() and self.armed():
            raise KeyboardInterrupt
        return self.inner(image, layers)


@pytest.fixture(scope="module")
def uninterrupted(effnet, tiny_pair):
    return {name: run(*tiny_pair, cfg, backbone=effnet, progress=False) for name, cfg in CONFIGS.items()}


def interrupt(how: str, at: int, cfg, pair, net, folder):
    """Run `cfg` with checkpoints in `folder`, interrupted `how` at step `at`; the TransferResult."""
    stop, done = threading.Event(), []

    def callback(step, row, image):
        done.append(step)
        if step == at and how == "ctrl-c":
            raise KeyboardInterrupt
        if step == at and how == "error":
            raise RuntimeError("a callback's bug")
        if step == at and how == "stop":
            stop.set()

    if how == "inside":  # inside step `at`, after step at-1's report
        net = Tripwire(net, lambda: len(done) == at - 1)
    kw = dict(backbone=net, progress=False, callbacks=[callback], callback_every=1, stop_event=stop,
              checkpoints=checkpoint.Checkpoints(folder))
    if how == "error":
        with pytest.raises(RuntimeError, match="a callback's bug"):  # saved first, then re-raised
            run(*pair, cfg, **kw)
        return None
    return run(*pair, cfg, **kw)


@pytest.mark.parametrize("name, how, at, resumes_from", [
    ("adam", "ctrl-c", 4, 4),    # at the end of the first scale
    ("adam", "inside", 3, 2),    # mid-scale, inside a step: from the last periodic checkpoint
    ("adam", "inside", 1, 0),    # inside the first step: from the checkpoint of the start
    ("lbfgs", "stop", 4, 4),     # the first scale has just stopped early: the next starts afresh
    ("lbfgs", "error", 6, 6),    # mid-scale, L-BFGS history and memo in the checkpoint
    ("lbfgs", "inside", 7, 6),   # inside an L-BFGS line search
    ("lbfgs", "stop", 8, 8),     # the last step done: only the saving is left
])
def test_resumed_run_ends_with_the_uninterrupted_image(name, how, at, resumes_from, uninterrupted, effnet, tiny_pair,
                                                       tmp_path):
    cfg, whole = CONFIGS[name], uninterrupted[name]
    folder = runs.new_run_dir(cfg.name, tmp_path)
    part = interrupt(how, at, cfg, tiny_pair, effnet, folder)
    if part is not None:
        assert part.stop_reason == ("stopped" if how == "stop" else "interrupted")
        assert f"resumable from step {resumes_from}" in part.message and str(folder) in part.message
    saved = checkpoint.load(folder)
    assert saved["step"] == resumes_from
    history = runs.read_history(folder)
    assert len(history) == (at if how != "inside" else at - 1)  # every finished step is on disk
    assert (folder / runs.LATEST).is_file() and (folder / runs.RESUMABLE).is_file()
    assert sorted(p.name for p in (folder / "snapshots").iterdir()) == [
        f"step_{s:05d}.png" for s in range(2, len(history) + 1, 2)]
    assert not runs.is_complete(folder) and runs.find_runs(cfg.name, tmp_path) == []
    with pytest.raises(runs.IncompleteRunError, match="can be resumed.*--resume"):
        runs.load_run(folder)

    done = resume(folder, backbone=effnet, progress=False)
    assert torch.equal(done.image, whole.image)
    assert [(h["step"], h["total"], h["size"], h["event"]) for h in done.history] == \
           [(h["step"], h["total"], h["size"], h["event"]) for h in whole.history]
    assert done.snapshots.keys() == whole.snapshots.keys()
    assert all(torch.equal(done.snapshots[k], whole.snapshots[k]) for k in whole.snapshots)
    assert done.stop_reason == whole.stop_reason and runs.find_runs(cfg.name, tmp_path) == [folder]
    assert torch.equal(torch.load(folder / "final.pt"), whole.image)
    assert not [p.name for p in folder.iterdir() if p.name in (runs.CHECKPOINT, runs.RESUMABLE, runs.LATEST)]
    assert runs.load_run(folder)["meta"]["stop_reason"] == whole.stop_reason


def test_a_finished_folder_is_never_resumed_nor_overwritten(uninterrupted, tmp_path):
    done = runs.save_run(uninterrupted["adam"], root=tmp_path)
    with pytest.raises(ResumeError, match="already complete"):
        resume(done)
    with pytest.raises(ValueError, match="never overwritten"):
        runs.save_run(uninterrupted["adam"], folder=done)
    with pytest.raises(ResumeError, match=f"no {runs.CHECKPOINT}"):
        resume(tmp_path)
    with pytest.raises(ResumeError, match="no such folder"):
        resume(tmp_path / "nowhere")
    (tmp_path / "junk").mkdir()
    (tmp_path / "junk" / runs.CHECKPOINT).write_bytes(b"not a checkpoint")
    with pytest.raises(ResumeError, match="cannot be read"):
        resume(tmp_path / "junk")
