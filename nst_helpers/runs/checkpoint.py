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
"""
import shlex
from pathlib import Path

import torch

from ..backbones import load_backbone
from ..core import images, state, transfer
from ..core.files import atomic_file
from ..core.config import StyleConfig
from . import folders
from .folders import CHECKPOINT, RESUMABLE


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

    def __init__(self, folder):
        self.folder = Path(folder)

    def save(self, loop) -> int:
        """Write the loop's state (state.payload) to checkpoint.pt, atomically, then the RESUMABLE
        note; call it between steps only. Returns the step it holds."""
        with atomic_file(self.folder / CHECKPOINT) as tmp:
            torch.save(state.payload(loop), tmp)
        loop.checkpointed = loop.step
        folders.write_text(self.folder / RESUMABLE, note(self.folder, loop.step, loop.cfg.steps))
        return loop.step

    def keep_work(self, loop) -> None:
        """After an interruption: the checkpoint (if the loop is between steps), latest.png,
        history.csv and snapshots/; result.message says where and from which step."""
        folder, r = self.folder, loop.result
        if loop.boundary and loop.checkpointed != loop.step:
            self.save(loop)
        if loop.image is not None:
            images.save_image(loop.image.detach().cpu(), folder / folders.LATEST)
        folders.write_history(folder, r.history)
        folders.write_snapshots(folder, r.snapshots)
        r.message = (f"stopped at step {loop.step} of {loop.cfg.steps}; the work so far is in {folder}/ "
                     f"({folders.LATEST}, history.csv, snapshots/), resumable from step {loop.checkpointed}")


def load(folder) -> dict:
    """The checkpoint of the unfinished run in `folder` (tensors on the CPU); ResumeError (a
    ValueError) when there is none to resume, saying why and what to do instead."""
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
    if why:
        raise ResumeError(f"cannot resume {folder}: {why}")
    try:
        saved = torch.load(folder / CHECKPOINT, map_location="cpu", weights_only=True)
    except Exception as err:  # torch.load's many ways of saying "bad file"
        raise ResumeError(f"cannot resume {folder}: its {CHECKPOINT} cannot be read ({type(err).__name__}); "
                          "start the run again with --content and --style") from None
    if not isinstance(saved, dict) or saved.get("format") != state.FORMAT:
        raise ResumeError(f"cannot resume {folder}: its {CHECKPOINT} was written by another version of "
                          "nst_helpers; start the run again with --content and --style")
    return saved


def resume(run_dir, backbone=None, device=None, progress: bool = True, callbacks=(), callback_every: int = 10,
           stop_event=None, saved: dict | None = None):
    """Finish the interrupted run in `run_dir` from its checkpoint, into the same folder
    (folders.save_run, DONE last), and return its TransferResult. Interrupted again, the folder
    stays resumable and the result says so (stop_reason interrupted or stopped, and message).

    backbone: the run's own (default: loaded by the name the checkpoint records); device:
    default the checkpoint's (bit-for-bit equality holds on the device the run started on).
    saved: the checkpoint, if already loaded with load(run_dir)."""
    saved = load(run_dir) if saved is None else saved
    if backbone is None:
        backbone = load_backbone(saved["backbone"], pooling=StyleConfig.from_dict(saved["config"]).pooling)
    if backbone.name != saved["backbone"]:
        raise ValueError(f"the run in {run_dir} was made on {saved['backbone']}, not {backbone.name}; "
                         "resume it on its own backbone (leave backbone out: it is loaded)")
    result = transfer.run(None, None, callbacks=callbacks, callback_every=callback_every, backbone=backbone,
                          device=device or saved["device"], progress=progress, stop_event=stop_event,
                          checkpoints=Checkpoints(run_dir), resume_from=saved)
    if result.stop_reason not in ("interrupted", "stopped"):
        folders.save_run(result, folder=run_dir)
    return result
