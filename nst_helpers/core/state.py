"""A run's state between two steps, as plain data: what a checkpoint holds and a resume restores.

The loop (transfer) keeps a Loop for the whole run and a ScaleState for the pyramid level it is
on. `payload(loop)` is everything the rest of the run depends on, as tensors and plain values
(the config, the images as the run sized them, the step count, history, snapshots, torch's CPU
random state, and the level's normalised image z, optimiser, scheduler, early-stopping window
and L-BFGS evaluation memo); `restore_loop` and `restore_scale` put such a payload back, so the
same ops run in the same order on the same numbers as they would have (bit for bit on the CPU).
Writing it to a run folder is runs/checkpoint.py's job: the core knows no folders.
"""
import time
from collections import Counter
from dataclasses import dataclass

import torch

from . import preserve

FORMAT = 3  # the payload's layout; another value is refused, not misread (2: recoveries and best;
            # 3: snapshots in files of their own, the payload lists their steps: runs/checkpoint.py)


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
    recoveries: int = 0      # blow-ups recovered from at this scale (transfer: back to `best`, damped)
    best: tuple | None = None  # (total, image (1, 3, h, w)): the lowest loss seen at this scale and its image


@dataclass
class Loop:
    """What the steps of every scale share: the result being filled, the step count, reporting.
    checkpoints: None, or an object with save(loop) and keep_work(loop) (runs.checkpoint.Checkpoints)."""
    result: object           # transfer.TransferResult
    cfg: object              # config.StyleConfig
    callbacks: tuple
    callback_every: int
    stop_event: object
    bar: object
    t0: float
    checkpoints: object = None
    step: int = 0
    image: torch.Tensor | None = None   # the latest finite image, (1, 3, h, w) on the device
    state: ScaleState | None = None     # the current scale's optimisation
    boundary: bool = True               # between steps: `state` is whole and can be checkpointed
    checkpointed: int | None = None     # the step of the checkpoint on disk

    def keep_work_after(self, err: BaseException) -> None:
        """checkpoints.keep_work after the run failed with `err`. A failure of its own (the disk
        that failed the run is still full) must not hide the first error, the one reported."""
        if self.checkpoints is None:
            return
        try:
            self.checkpoints.keep_work(self)
        except Exception as second:  # noqa: BLE001: the first error goes on, this one is a note on it
            err.add_note(f"(keeping the work failed too: {second})")

    def report(self, row: dict, x: torch.Tensor) -> None:
        """After a whole step: snapshot (and checkpoint) when due, callbacks, the progress bar."""
        self.image = x
        if self.step % self.cfg.snapshot_every == 0:
            self.result.snapshots[self.step] = x.cpu()
            if self.checkpoints is not None:
                self.checkpoints.save(self)
        if self.callbacks and self.step % self.callback_every == 0:
            shown = preserve.finish(self.cfg.preserve_colour, x.cpu(), self.result.content)  # as the result will be
            for cb in self.callbacks:
                cb(self.step, row, shown)
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{row['total']:.4g}", size=row["size"])


def scale_dict(s: ScaleState) -> dict:
    sched = None if s.sched is None else dict(s.sched.state_dict())
    if sched and isinstance(sched.get("milestones"), Counter):
        sched["milestones"] = dict(sched["milestones"])  # torch.load(weights_only=True) refuses a Counter
    return {"index": s.scale, "step": s.step, "done": s.done, "reason": s.reason, "z": s.z.detach(),
            "optimizer": s.opt.state_dict(), "scheduler": sched, "stopper": list(s.stopper.losses),
            "memo": dict(s.memo), "recoveries": s.recoveries,
            "best": None if s.best is None else (s.best[0], s.best[1].detach().cpu())}


def restore_scale(state: ScaleState, saved: dict) -> None:
    """Load a payload's scale dict into `state`, freshly built for the same scale around the saved z."""
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
    state.recoveries = saved["recoveries"]
    state.best = None if saved["best"] is None else (saved["best"][0], saved["best"][1].to(dev))


def payload(loop: Loop) -> dict:
    """Everything a resumed run needs, taken between steps (see the module docstring)."""
    r = loop.result
    history = [dict(row) for row in r.history]
    if history and history[-1]["event"] == "stopped":  # a stop is no part of the run: resumed, it goes on
        history[-1]["event"] = (loop.state.reason if loop.state is not None else None) or ""
    return {"format": FORMAT, "config": loop.cfg.to_dict(), "backbone": r.backbone, "device": r.device,
            "content": r.content, "style": r.style, "styles": list(r.styles or [r.style]), "masks": r.masks, "step": loop.step,
            "elapsed": time.perf_counter() - loop.t0,
            "history": history, "snapshots": dict(r.snapshots), "rng": torch.get_rng_state(),
            "image": None if loop.image is None else loop.image.detach().cpu(),
            "scale": None if loop.state is None else scale_dict(loop.state)}


def restore_loop(loop: Loop, saved: dict) -> dict | None:
    """Put a payload's step count, history, snapshots, image, clock and random state into a
    fresh Loop; returns its scale dict (None for a payload taken before any step)."""
    loop.result.history[:] = saved["history"]
    loop.result.snapshots.update(saved["snapshots"])
    loop.step = loop.checkpointed = saved["step"]
    loop.t0 -= saved["elapsed"]  # elapsed times go on from where they were
    if saved["image"] is not None:
        loop.image = saved["image"].to(torch.device(loop.result.device))
    torch.set_rng_state(saved["rng"])
    return saved["scale"]


def begin(loop: Loop, saved: dict | None, n_scales: int) -> tuple[dict | None, int]:
    """At the start of transfer.run: a fresh run with checkpoints writes its step-0 checkpoint;
    a resumed one gets the payload's state. Returns (the payload's scale dict or None, the first
    scale still to run)."""
    if saved is None:
        if loop.checkpoints is not None:
            loop.checkpoints.save(loop)  # resumable from the very start
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


def finish(loop: Loop) -> None:
    """The result's final image and time; the callbacks hear the last step if they have not."""
    result, mode = loop.result, loop.cfg.preserve_colour
    if loop.image is not None:
        result.image = preserve.finish(mode, loop.image.detach().clamp(0, 1).cpu(), result.content)
        result.snapshots.update({k: preserve.finish(mode, v, result.content) for k, v in result.snapshots.items()})
        result.snapshots.setdefault(loop.step, result.image)
        if loop.callbacks and result.history and loop.step % loop.callback_every != 0:
            for cb in loop.callbacks:
                cb(loop.step, result.history[-1], result.image)
    result.seconds = time.perf_counter() - loop.t0
