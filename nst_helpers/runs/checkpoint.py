"""Checkpoints: a run's whole state in its run folder, so that an interrupted run can be finished
later and ends with the same final image, bit for bit on the CPU, as a run never interrupted.

A run given `checkpoints=Checkpoints(folder)` (the command line gives its run folder) writes
checkpoint.pt at its start and with every snapshot (every cfg.snapshot_every steps), atomically,
with a RESUMABLE note beside it. What it holds is core/state.py's payload; `resume` rebuilds the
current scale's objective (deterministic: the same ops on the same images) and loads the rest.

An interrupted run (Ctrl-C, SIGTERM through the command line, a stop_event, an exception in a
callback) gets `keep_work`: the checkpoint of its last finished step (if it stopped between
steps; an interrupt inside a step leaves the last periodic one, whose steps the resumed run
redoes identically), latest.png, history.csv and snapshots/. There is no DONE file, so it is
never taken for a finished run; folders.save_run(result, folder=...) completes it and removes
the checkpoint.

Costs stay linear in the run's length: each snapshot goes to its own file in checkpoint-snapshots/
when it is first checkpointed, and checkpoint.pt lists their steps, so a checkpoint never rewrites
the snapshots before it. A checkpoint's values are checked when it is loaded (payload_check.py),
and one process at a time writes into a run folder (lock.py).
"""
import shlex
from pathlib import Path

import torch

from ..backbones import load_backbone
from ..core import images, plan, preserve, state, transfer
from ..core.config import StyleConfig
from ..core.storage import StorageError, resumable
from . import folders, lock, payload_check
from .folders import CHECKPOINT, RESUMABLE, SNAPSHOT_DIR


class ResumeError(ValueError):
    """A folder that cannot be resumed; the message says why and what to do instead."""


def note(folder, step: int, steps: int) -> str:
    """The RESUMABLE note: what the folder is and the command that finishes it."""
    return (f"This run has not finished: it was interrupted (or it is still running).\n"
            f"Its checkpoint, {CHECKPOINT}, is at step {step} of {steps}. Finish it with\n\n"
            f"    python -m nst_helpers --resume {shlex.quote(str(folder))}\n\n"
            f"or from Python: nst_helpers.resume({str(folder)!r}). It ends with the same image as a run\n"
            "that was never interrupted, in this folder.\n")


class Checkpoints:
    """What transfer.run calls to keep its state in run folder `folder` (checkpoints=...)."""

    def __init__(self, folder, on_disk=()):
        self.folder = Path(folder)
        self.on_disk = set(on_disk)   # snapshot steps already in SNAPSHOT_DIR (a resumed run's)

    def save(self, loop) -> int:
        """Write the loop's state (state.payload) to checkpoint.pt, atomically, then the RESUMABLE
        note; call it between steps only. Returns the step it holds. A failed write is a
        StorageError saying what is kept and how to resume."""
        try:
            payload = state.payload(loop)
            payload["snapshots"] = self._save_snapshots(payload["snapshots"])
            folders.save_tensors(self.folder / CHECKPOINT, payload)
            loop.checkpointed = loop.step
            folders.write_text(self.folder / RESUMABLE, note(self.folder, loop.step, loop.cfg.steps))
        except StorageError as err:
            raise resumable(err, self.folder, self._kept(loop)) from err
        return loop.step

    def _kept(self, loop) -> int | None:
        """The step of the checkpoint on disk, if it is still there (a folder may vanish)."""
        return loop.checkpointed if (self.folder / CHECKPOINT).is_file() else None

    def _save_snapshots(self, snapshots: dict) -> list:
        """Write the snapshots not on disk yet, each once; returns every snapshot's step."""
        for step, image in snapshots.items():
            if step not in self.on_disk:
                (self.folder / SNAPSHOT_DIR).mkdir(exist_ok=True)
                folders.save_tensors(self.folder / SNAPSHOT_DIR / f"step_{step:05d}.pt", image)
                self.on_disk.add(step)
        return sorted(snapshots)

    def keep_work(self, loop) -> None:
        """After an interruption: the checkpoint (if the loop is between steps), latest.png,
        history.csv and snapshots/; result.message says where and from which step."""
        folder, r = self.folder, loop.result
        if loop.boundary and loop.checkpointed != loop.step:
            self.save(loop)
        try:
            shown = lambda image: preserve.finish(loop.cfg.preserve_colour, image, r.content)  # noqa: E731
            if loop.image is not None:
                images.save_image(shown(loop.image.detach().cpu()), folder / folders.LATEST)
            folders.write_history(folder, r.history)
            folders.write_snapshots(folder, {step: shown(image) for step, image in r.snapshots.items()})
        except StorageError as err:
            raise resumable(err, folder, self._kept(loop)) from err
        r.message = (f"stopped at step {loop.step} of {loop.cfg.steps}; the work so far is in {folder}/ "
                     f"({folders.LATEST}, history.csv, snapshots/), resumable from step {loop.checkpointed}")


def folder_problem(folder) -> str | None:
    """Why `folder` holds no run to resume ('cannot resume F: why; what to do'), or None."""
    folder = Path(folder)
    why = None
    if not folder.exists():
        why = "no such folder; give the run folder the interrupted run printed, e.g. outputs/fast/<timestamp>-<id>"
    elif not folder.is_dir():
        why = "it is a file, not a run folder; give the folder the interrupted run printed"
    elif folders.is_complete(folder):
        why = (f"that run is already complete (it has its {folders.DONE} file); load it with nst_helpers.load_run, "
               "or start a new run")
    elif not (folder / CHECKPOINT).is_file():
        why = (f"it has no {CHECKPOINT} (not a run folder, or its run kept no checkpoint); "
               "start the run again with --content and --style")
    return f"cannot resume {folder}: {why}" if why else None


def load(folder) -> dict:
    """The checkpoint of the unfinished run in `folder` (tensors on the CPU), its values checked
    (payload_check.py); ResumeError (a ValueError) when there is none to resume, saying why and
    what to do instead."""
    folder = Path(folder)
    if problem := folder_problem(folder):
        raise ResumeError(problem)
    saved = _read(folder, CHECKPOINT)
    if not isinstance(saved, dict) or saved.get("format") != state.FORMAT:
        raise ResumeError(f"cannot resume {folder}: its {CHECKPOINT} was written by another version of "
                          "nst_helpers; start the run again with --content and --style")
    if why := payload_check.problem(saved):
        raise ResumeError(f"cannot resume {folder}: {why} (was {CHECKPOINT} edited?); start the run again "
                          "with --content and --style")
    saved["snapshots"] = {step: _read(folder, f"{SNAPSHOT_DIR}/step_{step:05d}.pt", image=True)
                          for step in saved["snapshots"]}
    return saved


def _read(folder: Path, name: str, image: bool = False):
    """torch.load of folder/name (tensors and plain data only), or ResumeError naming the file."""
    try:
        out = torch.load(folder / name, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load's many ways of saying "bad file", a missing one too
        raise ResumeError(f"cannot resume {folder}: its {name} cannot be read ({type(err).__name__}); "
                          "start the run again with --content and --style") from None
    if image and payload_check.image_problem(name, out):
        raise ResumeError(f"cannot resume {folder}: its {name} is not an image; start the run again")
    return out


def resume(run_dir, backbone=None, device=None, progress: bool = True, callbacks=(), callback_every: int = 10,
           stop_event=None, saved: dict | None = None):
    """Finish the interrupted run in `run_dir` from its checkpoint, into the same folder
    (folders.save_run, DONE last), and return its TransferResult. Interrupted again, the folder
    stays resumable and the result says so (stop_reason interrupted or stopped, and message).

    backbone: the run's own (default: loaded by the name the checkpoint records); device:
    default the checkpoint's (bit-for-bit equality holds on the device the run started on).
    saved: the checkpoint, if already loaded with load(run_dir)."""
    if saved is None and (problem := folder_problem(run_dir)):
        raise ResumeError(problem)
    with lock.hold(run_dir):   # one writer: a second resume of the folder is refused
        saved = load(run_dir) if saved is None else saved
        cfg = StyleConfig.from_dict(saved["config"])
        if backbone is None:
            backbone = load_backbone(saved["backbone"], pooling=cfg.pooling)
        if backbone.name != saved["backbone"]:
            raise ValueError(f"the run in {run_dir} was made on {saved['backbone']}, not {backbone.name}; "
                             "resume it on its own backbone (leave backbone out: it is loaded)")
        levels = plan.plan(cfg, saved["content"].shape[-2:], backbone.min_size, backbone.name)
        if why := payload_check.plan_problem(saved, levels):
            raise ResumeError(f"cannot resume {run_dir}: {why} (was {CHECKPOINT} edited?); start the run again "
                              "with --content and --style")
        result = transfer.run(None, None, callbacks=callbacks, callback_every=callback_every, backbone=backbone,
                              device=device or saved["device"], progress=progress, stop_event=stop_event,
                              checkpoints=Checkpoints(run_dir, on_disk=saved["snapshots"]), resume_from=saved)
        if result.stop_reason not in ("interrupted", "stopped"):
            folders.save_run(result, folder=run_dir)
    return result
