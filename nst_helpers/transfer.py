"""The optimisation loop: `run(content, style, config)` -> TransferResult.

The target image is optimised in ImageNet-normalised units z = (x - mean) / std, the
space the seed's Adam learning rate was chosen in; x = z * std + mean is what the
backbone sees, projected to [0, 1] after every step. The loss lives in `objective`; this
module runs it over the scales of the pyramid (`_optimise_scale`, one call per scale) and
knows no screen: it reports through callbacks and an optional tqdm progress bar.

Speed (benchmarks/README.md has the figures): L-BFGS never pays twice for one point (its
line search ends where the next step starts).

Checkpoints and resuming (checkpoint.py): with checkpoint_dir the loop saves its whole state
there with every snapshot and when interrupted; resume_from continues such a checkpoint.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

from . import checkpoint, images, optim
from .budget import check_memory
from .backbones import load_backbone
from .config import StyleConfig
from .devices import on_device, pick_device  # noqa: F401  (pick_device: public here too)
from .start import as_image, initial_image, level_shape  # noqa: F401  (level_shape: public here too)
from .objective import StyleObjective, autocast_for  # noqa: F401  (autocast_for: public here too)

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass
class TransferResult:
    """image: (1, 3, H, W) in [0, 1] on the CPU; snapshots: {step: image}; history: one dict per
    step, losses evaluated at the image before that step's update; "style" already includes the
    backbone's style_scale, so total = content_weight*content + style_weight*style + tv_weight*tv."""

    image: torch.Tensor
    history: list
    snapshots: dict
    config: StyleConfig
    backbone: str
    device: str
    stop_reason: str = "completed"   # completed | early_stop | stopped | interrupted | diverged
    seconds: float = 0.0
    content: torch.Tensor | None = field(default=None, repr=False)
    style: torch.Tensor | None = field(default=None, repr=False)
    message: str = ""                # why a run ended early, in words (diverged: what and where)


@torch.no_grad()
def _project(z: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> None:
    """Clamp z (1, 3, H, W) in place to [lo, hi] per channel; an in-range z is left untouched."""
    if (z < lo).any() or (z > hi).any():
        z.copy_(torch.maximum(torch.minimum(z, hi), lo))


@dataclass
class _Loop:
    """What the steps of every scale share: the result being filled, the step count, reporting."""
    result: TransferResult
    cfg: StyleConfig
    callbacks: tuple
    callback_every: int
    stop_event: object
    bar: object
    t0: float
    step: int = 0
    image: torch.Tensor | None = None   # the latest finite image, (1, 3, h, w) on the device
    checkpoint_dir: Path | None = None  # where checkpoints go (None: nowhere)
    state: checkpoint.ScaleState | None = None  # the current scale's optimisation
    boundary: bool = True               # between steps: `state` is whole and can be checkpointed
    checkpointed: int | None = None     # the step of the checkpoint on disk

    def report(self, row: dict, x: torch.Tensor) -> None:
        self.image = x
        if self.step % self.cfg.snapshot_every == 0:
            self.result.snapshots[self.step] = x.cpu()
            if self.checkpoint_dir is not None:
                checkpoint.save(self)
        if self.callbacks and self.step % self.callback_every == 0:
            for cb in self.callbacks:
                cb(self.step, row, x.cpu())
        if self.bar is not None:
            self.bar.update(1)
            self.bar.set_postfix(loss=f"{row['total']:.4g}", size=row["size"])


def _optimise_scale(loop: _Loop, objective: StyleObjective, x: torch.Tensor, budget: int, size: int,
                    scale: int = 0, saved: dict | None = None) -> str | None:
    """Up to `budget` optimiser steps from image x (1, 3, h, w), or on from a checkpoint's state of
    this scale (`saved`, x its image); loop.image ends as the last finite image. Returns why it
    ended early (early_stop | stopped | diverged) or None."""
    cfg, dev = loop.cfg, x.device
    mean, std = MEAN.to(dev), STD.to(dev)
    loop.boundary = False  # until this scale's state is whole
    z = (saved["z"].to(dev) if saved else (x - mean) / std).detach().requires_grad_(True)
    lo, hi = (0 - mean) / std, (1 - mean) / std
    opt = optim.make_optimizer(cfg.optimizer, [z], cfg.lr)
    sched = optim.make_scheduler(cfg.lr_schedule, opt, budget)
    stopper = optim.EarlyStopping(cfg.early_stop_window, cfg.early_stop_tol)
    memo = {}  # L-BFGS: the last evaluation, {z, grad, total, parts}
    state = checkpoint.ScaleState(scale, z, opt, sched, stopper, memo)
    if saved:
        checkpoint.restore_scale(state, saved)
    loop.image, loop.state, loop.boundary = x, state, True
    for _ in range(state.step, budget):
        loop.boundary = False  # mid-step, z and the optimiser's state disagree
        row, bad = {}, []

        def closure():
            _project(z, lo, hi)  # L-BFGS's line search points too: it searches in range
            if memo and torch.equal(memo["z"], z):  # the line search's last point: reuse
                z.grad, total, parts = memo["grad"].clone(), memo["total"], memo["parts"]
            else:
                opt.zero_grad(set_to_none=True)
                total, parts = objective(z * std + mean)
                total.backward()
                total, parts = total.detach(), {k: v.item() for k, v in parts.items()}
                if not bad and not torch.isfinite(total):  # any evaluation, the line search's too
                    bad.append("the loss")
                elif not bad and not torch.isfinite(z.grad).all():
                    bad.append("the gradient")
                if cfg.optimizer == "lbfgs":
                    memo.update(z=z.detach().clone(), grad=z.grad.clone(), total=total, parts=parts)
            if not row:  # L-BFGS may evaluate several times: keep the step's first
                row.update(total=total.item(), **parts)
            return total

        lr_now = opt.param_groups[0]["lr"]
        opt.step(closure)
        _project(z, lo, hi)
        loop.step += 1
        row.update(step=loop.step, lr=lr_now, elapsed=time.perf_counter() - loop.t0, size=size, event="")
        loop.result.history.append(row)
        x = (z.detach() * std + mean).clamp(0, 1)
        if bad or not torch.isfinite(x).all():
            row["event"] = "diverged"
            what = bad[0] if bad else "the image"
            loop.result.message = (f"{what} became NaN or infinite at step {loop.step}; kept the image of "
                                   f"step {loop.step - 1}. Lower lr or style_weight and run again")
            return "diverged"
        optim.scheduler_step(sched, row["total"])
        early = stopper.should_stop(row["total"])
        state.step += 1
        state.done, state.reason = early or state.step == budget, "early_stop" if early else None
        row["event"] = "early_stop" if early else ""
        loop.boundary = True  # the step is whole: report() may checkpoint it
        loop.report(row, x)
        if loop.stop_event is not None and loop.stop_event.is_set():
            row["event"] = "stopped"
            return "stopped"
        if early:
            return "early_stop"
    return None


def run(content, style, config: StyleConfig | None = None, callbacks=(), callback_every: int = 10,
        backbone=None, device=None, progress: bool = True, stop_event=None, checkpoint_dir=None,
        resume_from: dict | None = None) -> TransferResult:
    """Stylise `content` with `style` (paths, PIL images, arrays or (1,3,H,W) tensors in [0,1]).

    callbacks: callables f(step, losses_dict, image) called every `callback_every` steps and
    at the end; image is a detached (1,3,h,w) CPU tensor. stop_event: anything with is_set()
    (threading.Event); when set, the run ends after the current step. Ctrl-C / the notebook's
    interrupt also ends it and returns what exists so far. A given `backbone` is never moved:
    on another device, the run uses a copy.

    checkpoint_dir: a run folder to keep a checkpoint in, at the start, with every snapshot and
    when interrupted (checkpoint.py; an exception from a callback is re-raised after that).
    resume_from: a checkpoint (checkpoint.load) to go on from; content, style and config are
    then its own (pass None), and so must the backbone be (checkpoint.resume does all this).
    """
    cfg = StyleConfig.from_dict(resume_from["config"]) if resume_from else (config or StyleConfig())
    dev = pick_device(device)
    net = on_device(backbone, dev) if backbone is not None else load_backbone(cfg.backbone, pooling=cfg.pooling).to(dev)
    check_memory(cfg, dev, net.name, content if not resume_from else resume_from["content"], flag="size=")
    # resumed: the images as the run sized them, the same numbers whatever happened to the files since
    content_full, style_full = ((resume_from["content"], resume_from["style"]) if resume_from
                                else (as_image(content, cfg.size), as_image(style, cfg.size)))
    sizes = optim.pyramid_sizes(cfg.size, cfg.scales)
    budgets = optim.split_steps(cfg.steps, cfg.scales, cfg.scale_steps)
    shapes = [level_shape(content_full.shape[-2:], s, cfg.size) for s in sizes]
    if min(shapes[-1]) < net.min_size:
        raise ValueError(f"content image is {tuple(content_full.shape[-2:])} at size={cfg.size}; "
                         f"{net.name} needs at least {net.min_size} px per side: raise size")
    while min(shapes[0]) < net.min_size:  # a wide image: coarse levels too thin for the backbone
        sizes, shapes, budgets = sizes[1:], shapes[1:], [budgets[0] + budgets[1], *budgets[2:]]
    result = TransferResult(content_full, [], {}, cfg, net.name, str(dev), content=content_full, style=style_full)
    bar = None
    if progress:
        from .progress import progress_bar  # tqdm on a terminal or in a notebook, plain lines in a log
        bar = progress_bar(total=cfg.steps, desc=f"{cfg.name} on {net.name}", unit="step")
    loop = _Loop(result, cfg, tuple(callbacks), callback_every, stop_event, bar, time.perf_counter(),
                 checkpoint_dir=None if checkpoint_dir is None else Path(checkpoint_dir))
    saved, start = checkpoint.begin(loop, resume_from, len(sizes))
    try:
        for scale, (size, budget, hw) in enumerate(zip(sizes, budgets, shapes)):
            if scale < start:
                continue  # finished before the checkpoint
            here = saved if saved and saved["index"] == scale else None
            content_s = images.resize_to(content_full, hw).to(dev)
            style_s = images.resize_to(style_full, hw).to(dev)
            objective = StyleObjective(net, cfg, content_s, style_s)
            if here:
                x = loop.image
            elif loop.image is None:
                x = initial_image(cfg, content_s, style_s)
            else:
                x = images.resize_to(loop.image, hw)
            reason = _optimise_scale(loop, objective, x, budget, size, scale, here)
            if reason in ("stopped", "diverged") or (reason == "early_stop" and scale == len(sizes) - 1):
                result.stop_reason = reason
            if reason in ("stopped", "diverged"):
                break
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
    except BaseException:
        if loop.checkpoint_dir is not None:
            checkpoint.keep_work(loop)  # save what exists, then let the error go on
        raise
    finally:
        if bar is not None:
            bar.close()
    if loop.checkpoint_dir is not None and result.stop_reason in ("interrupted", "stopped"):
        checkpoint.keep_work(loop)
    if loop.image is not None:
        result.image = loop.image.detach().clamp(0, 1).cpu()
        result.snapshots.setdefault(loop.step, result.image)
        if callbacks and result.history and loop.step % callback_every != 0:
            for cb in callbacks:
                cb(loop.step, result.history[-1], result.image)
    result.seconds = time.perf_counter() - loop.t0
    return result
