"""Checkpoints: a run's whole state in its run folder, so that an interrupted run can be finished
later and ends with the same final image, bit for bit on the CPU, as a run never interrupted.

A run given `checkpoint_dir` (the command line gives its run folder) writes checkpoint.pt at its
start and with every snapshot (every cfg.snapshot_every steps), atomically, with a RESUMABLE
note beside it. It holds all the rest of the run depends on: the config, the backbone and
device names, the content and style images as the run sized them, the step count, history,
snapshots, torch's CPU random state, and the current pyramid scale's ScaleState (the
normalised image z, the optimiser's and scheduler's state, the early-stopping window, the
L-BFGS evaluation memo). `resume` rebuilds that scale's objective (deterministic: the same
ops on the same images) and loads the rest, so the same ops run in the same order on the same
numbers as they would have.

An interrupted run (Ctrl-C, SIGTERM through the command line, a stop_event, an exception in a
callback) gets `keep_work`: the checkpoint of its last finished step (if it stopped between
steps; an interrupt inside a step leaves the last periodic one, whose steps the resumed run
redoes identically), latest.png, history.csv and snapshots/. There is no DONE file, so it is
never taken for a finished run; runs.save_run(result, folder=...) completes it and removes the
checkpoint.
"""
import shlex
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path

import torch

from . import images, runs
from .config import StyleConfig
from .runs import CHECKPOINT, RESUMABLE

FORMAT = 1  # the checkpoint's layout; another value is refused, not misread


class ResumeError(ValueError):
    """A folder that cannot be resumed; the message says why and what to do instead."""


@dataclass
class ScaleState:
    """One pyramid scale's optimisation, as far as it got. z: (1, 3, h, w), the ImageNet-normalised
    image being optimised; opt, sched (None for a constant lr), stopper (optim.EarlyStopping);
    memo: the L-BFGS evaluation memo, {z, grad, total, parts} or empty."""

    scale: int
    z: torch.Tensor
    opt: torch.optim.Optimizer
    sched: object
    stopper: object
    memo: dict
    step: int = 0            # steps done at this scale
    done: bool = False       # its budget spent or stopped early: a resumed run starts the next scale
    reason: str | None = None  # "early_stop" when it stopped early


def _scale_dict(s: ScaleState) -> dict:
    sched = None if s.sched is None else dict(s.sched.state_dict())
    if sched and isinstance(sched.get("milestones"), Counter):
        sched["milestones"] = dict(sched["milestones"])  # torch.load(weights_only=True) refuses a Counter
    return {"index": s.scale, "step": s.step, "done": s.done, "reason": s.reason, "z": s.z.detach(),
            "optimizer": s.opt.state_dict(), "scheduler": sched, "stopper": list(s.stopper.losses),
            "memo": dict(s.memo)}


def restore_scale(state: ScaleState, saved: dict) -> None:
    """Load a checkpoint's scale dict into `state`, freshly built for the same scale around the saved z."""
    state.opt.load_state_dict(saved["optimizer"])
    if state.sched is not None:
        sched = dict(saved["scheduler"])
        if "milestones" in sched:
            sched["milestones"] = Counter(sched["milestones"])
        state.sched.load_state_dict(sched)
    state.stopper.losses = list(saved["stopper"])
    dev = state.z.device
    state.memo.update({k: v.to(dev) if isinstance(v, torch.Tensor) else v for k, v in saved["memo"].items()})
    state.step, state.done, state.reason = saved["step"], saved["done"], saved["reason"]


def note(folder, step: int, steps: int) -> str:
    """The RESUMABLE note: what the folder is and the command that finishes it."""
    return (f"This run has not finished: it was interrupted (or it is still running).\n"
            f"Its checkpoint, {CHECKPOINT}, is at step {step} of {steps}. Finish it with\n\n"
            f"    python -m nst_helpers --resume {shlex.quote(str(folder))}\n\n"
            f"or from Python: nst_helpers.resume({str(folder)!r}). It ends with the same image as a run\n"
            "that was never interrupted, in this folder.\n")


def save(loop) -> int:
    """Write transfer._Loop `loop`'s state to its checkpoint_dir (checkpoint.pt, atomically, then
    the RESUMABLE note); call it between steps only. Returns the step it holds."""
    folder, r = loop.checkpoint_dir, loop.result
    history = [dict(row) for row in r.history]
    if history and history[-1]["event"] == "stopped":  # a stop is no part of the run: resumed, it goes on
        history[-1]["event"] = (loop.state.reason if loop.state is not None else None) or ""
    payload = {"format": FORMAT, "config": loop.cfg.to_dict(), "backbone": r.backbone, "device": r.device,
               "content": r.content, "style": r.style, "step": loop.step, "elapsed": time.perf_counter() - loop.t0,
               "history": history, "snapshots": dict(r.snapshots), "rng": torch.get_rng_state(),
               "image": None if loop.image is None else loop.image.detach().cpu(),
               "scale": None if loop.state is None else _scale_dict(loop.state)}
    with images.atomic_file(folder / CHECKPOINT) as tmp:
        torch.save(payload, tmp)
    loop.checkpointed = loop.step
    runs.write_text(folder / RESUMABLE, note(folder, loop.step, loop.cfg.steps))
    return loop.step


def keep_work(loop) -> None:
    """After an interruption: the checkpoint (if the loop is between steps), latest.png,
    history.csv and snapshots/ in loop.checkpoint_dir; result.message says where and from which step."""
    folder, r = loop.checkpoint_dir, loop.result
    if loop.boundary and loop.checkpointed != loop.step:
        save(loop)
    if loop.image is not None:
        images.save_image(loop.image.detach().cpu(), folder / runs.LATEST)
    runs.write_history(folder, r.history)
    runs.write_snapshots(folder, r.snapshots)
    r.message = (f"stopped at step {loop.step} of {loop.cfg.steps}; the work so far is in {folder}/ "
                 f"({runs.LATEST}, history.csv, snapshots/), resumable from step {loop.checkpointed}")


def begin(loop, saved: dict | None, n_scales: int) -> tuple[dict | None, int]:
    """At the start of transfer.run: a fresh run with a checkpoint_dir writes its step-0 checkpoint;
    a resumed one gets the checkpoint's state (restore_loop). Returns (the checkpoint's scale dict
    or None, the first scale still to run)."""
    if saved is None:
        if loop.checkpoint_dir is not None:
            save(loop)  # resumable from the very start
        return None, 0
    scale = restore_loop(loop, saved)
    if loop.bar is not None:
        loop.bar.update(loop.step)
    if scale is None:
        return None, 0
    start = scale["index"] + scale["done"]  # a finished scale: the next one starts afresh
    if start == n_scales and scale["reason"] == "early_stop":
        loop.result.stop_reason = "early_stop"
    return scale, start


def restore_loop(loop, saved: dict) -> dict | None:
    """Put a checkpoint's step count, history, snapshots, image, clock and random state into a
    fresh transfer._Loop; returns its scale dict (None for a checkpoint taken before any step)."""
    loop.result.history[:] = saved["history"]
    loop.result.snapshots.update(saved["snapshots"])
    loop.step = loop.checkpointed = saved["step"]
    loop.t0 -= saved["elapsed"]  # elapsed times go on from where they were
    if saved["image"] is not None:
        loop.image = saved["image"].to(torch.device(loop.result.device))
    torch.set_rng_state(saved["rng"])
    return saved["scale"]


def load(folder) -> dict:
    """The checkpoint of the unfinished run in `folder` (tensors on the CPU); ResumeError (a
    ValueError) when there is none to resume, saying why and what to do instead."""
    folder = Path(folder)
    why = None
    if not folder.exists():
        why = "no such folder; give the run folder the interrupted run printed, e.g. outputs/fast/<timestamp>-<id>"
    elif not folder.is_dir():
        why = "it is a file, not a run folder; give the folder the interrupted run printed"
    elif runs.is_complete(folder):
        why = (f"that run is already complete (it has its {runs.DONE} file); load it with nst_helpers.load_run, "
               "or start a new run")
    elif not (folder / CHECKPOINT).is_file():
        why = (f"it has no {CHECKPOINT} (not a run folder, or its run kept no checkpoint); "
               "start the run again with --content and --style")
    if why:
        raise ResumeError(f"cannot resume {folder}: {why}")
    try:
        saved = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load's many ways of saying "bad file"
        raise ResumeError(f"cannot resume {folder}: its {CHECKPOINT} cannot be read ({type(err).__name__}); "
                          "start the run again with --content and --style") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ResumeError(f"cannot resume {folder}: its {CHECKPOINT} was written by another version of "
                          "nst_helpers; start the run again with --content and --style")
    return saved


def resume(run_dir, backbone=None, device=None, progress: bool = True, callbacks=(), callback_every: int = 10,
           stop_event=None, saved: dict | None = None):
    """Finish the interrupted run in `run_dir` from its checkpoint, into the same folder
    (runs.save_run, DONE last), and return its TransferResult. Interrupted again, the folder
    stays resumable and the result says so (stop_reason interrupted or stopped, and message).

    backbone: the run's own (default: loaded by the name the checkpoint records); device:
    default the checkpoint's (bit-for-bit equality holds on the device the run started on).
    saved: the checkpoint, if already loaded with load(run_dir)."""
    from . import transfer  # transfer imports this module
    from .backbones import load_backbone
    saved = load(run_dir) if saved is None else saved
    if backbone is None:
        backbone = load_backbone(saved["backbone"], pooling=StyleConfig.from_dict(saved["config"]).pooling)
    if backbone.name != saved["backbone"]:
        raise ValueError(f"the run in {run_dir} was made on {saved['backbone']}, not {backbone.name}; "
                         "resume it on its own backbone (leave backbone out: it is loaded)")
    result = transfer.run(None, None, callbacks=callbacks, callback_every=callback_every, backbone=backbone,
                          device=device or saved["device"], progress=progress, stop_event=stop_event,
                          checkpoint_dir=run_dir, resume_from=saved)
    if result.stop_reason not in ("interrupted", "stopped"):
        runs.save_run(result, folder=run_dir)
    return result
