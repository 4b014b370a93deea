"""The optimisation loop: `run(content, style, config)` -> TransferResult.

The target image is optimised in ImageNet-normalised units z = (x - mean) / std, the
space the seed's Adam learning rate was chosen in; x = z * std + mean is what the
backbone sees, projected to [0, 1] after every step. The loss lives in `objective`; this
module runs it over the scales of the pyramid (`_optimise_scale`, one call per scale) and
knows no screen: it reports through callbacks and an optional tqdm progress bar.

Speed (benchmarks/README.md has the figures): L-BFGS never pays twice for one point (its
line search ends where the next step starts).

Checkpoints and resuming (state.py, runs/checkpoint.py): given `checkpoints`, the loop saves its
whole state with every snapshot and when interrupted; resume_from continues such a checkpoint.
"""
import time
from dataclasses import dataclass, field

import torch

from . import images, optim, plan, preserve, state, tiles
from .recovery import MAX_RECOVERIES, blow_up, recover
from ..backbones import load_backbone
from .config import StyleConfig
from .devices import on_device, pick_device
from .masks import at_shape, given_masks
from .memory import check_memory
from .objective import StyleObjective
from .start import (as_image, check_blend, check_pooling, check_stroke, checked, given_start, initial_image,
                    style_images, style_shape)

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass
class TransferResult:
    """image: (1, 3, H, W) in [0, 1] on the CPU; snapshots: {step: image}; history: one dict per
    step, losses evaluated at the image before that step's update; "style" and "tv" already include
    the backbone's style_scale and tv_scale, so total = content_weight*content + style_weight*style
    + tv_weight*tv."""

    image: torch.Tensor
    history: list
    snapshots: dict
    config: StyleConfig
    backbone: str
    device: str
    stop_reason: str = "completed"   # completed | early_stop | stopped | interrupted | diverged
    # (a blow-up is first recovered from: its history row says "recovered"; see _recover)
    seconds: float = 0.0
    content: torch.Tensor | None = field(default=None, repr=False)
    style: torch.Tensor | None = field(default=None, repr=False)   # the first style image (for figures)
    styles: list | None = field(default=None, repr=False)          # every style image, blended by cfg.style_blend
    message: str = ""                # why a run ended early, in words (diverged: what and where)
    weights: dict | None = None      # the backbone's weights: source, file, hash (net.weights)
    masks: list | None = field(default=None, repr=False)           # (1, 1, H, W) per style: its region (masks.py)
    folder: str | None = None        # where its checkpoints went (checkpoints.folder), None without


@torch.no_grad()
def _project(z: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> None:
    """Clamp z (1, 3, H, W) in place to [lo, hi] per channel; an in-range z is left untouched."""
    if (z < lo).any() or (z > hi).any():
        z.copy_(torch.maximum(torch.minimum(z, hi), lo))


def _normalisation(dev: torch.device) -> tuple:
    """(mean, std, lo, hi) on `dev`: x = z * std + mean, and z's bounds for x in [0, 1]."""
    mean, std = MEAN.to(dev), STD.to(dev)
    return mean, std, (0 - mean) / std, (1 - mean) / std


def _level_state(cfg: StyleConfig, x: torch.Tensor, budget: int, scale: int, saved: dict | None) -> state.ScaleState:
    """A pyramid level's optimisation from image x (1, 3, h, w), or the checkpoint's (`saved`)."""
    mean, std, _, _ = _normalisation(x.device)
    z = (saved["z"].to(x.device) if saved else (x - mean) / std).detach().requires_grad_(True)
    opt = optim.make_optimizer(cfg.optimizer, [z], cfg.lr)
    level = state.ScaleState(scale, z, opt, optim.make_scheduler(cfg.lr_schedule, opt, budget),
                             optim.EarlyStopping(cfg.early_stop_window, cfg.early_stop_tol),
                             {})  # memo, L-BFGS: the last evaluation, {z, grad, total, parts}
    if saved:
        state.restore_scale(level, saved)
    return level


def _closure(objective: StyleObjective, level: state.ScaleState, row: dict, bad: list, lbfgs: bool):
    """The optimiser's closure for one step: the loss and gradient at z (projected into range),
    the step's first evaluation recorded in `row`, a non-finite loss or gradient noted in `bad`."""
    z, opt, memo = level.z, level.opt, level.memo
    mean, std, lo, hi = _normalisation(z.device)

    def closure():
        _project(z, lo, hi)  # L-BFGS's line search points too: it searches in range
        if memo and torch.equal(memo["z"], z):  # the line search's last point: reuse
            z.grad, total, parts = memo["grad"].clone(), memo["total"], memo["parts"]
        else:
            opt.zero_grad(set_to_none=True)
            total, parts = tiles.evaluate(objective, z, std, mean)   # z.grad: whole, or tile by tile (masked)
            total, parts = total.detach(), {k: v.item() for k, v in parts.items()}
            if not bad and not torch.isfinite(total):  # any evaluation, the line search's too
                bad.append("the loss")
            elif not bad and not torch.isfinite(z.grad).all():
                bad.append("the gradient")
            if lbfgs:
                memo.update(z=z.detach().clone(), grad=z.grad.clone(), total=total, parts=parts)
        if not row:  # L-BFGS may evaluate several times: keep the step's first
            row.update(total=total.item(), **parts)
        return total

    return closure


def _optimise_scale(loop: state.Loop, objective: StyleObjective, x: torch.Tensor, budget: int, size: int,
                    scale: int = 0, saved: dict | None = None) -> str | None:
    """Up to `budget` optimiser steps from image x (1, 3, h, w), or on from a checkpoint's state of
    this scale (`saved`, x its image); loop.image ends as the last finite image. Returns why it
    ended early (early_stop | stopped | diverged) or None."""
    loop.boundary = False  # until this scale's state is whole
    level = _level_state(loop.cfg, x, budget, scale, saved)
    mean, std, lo, hi = _normalisation(x.device)
    loop.image, loop.state, loop.boundary = x, level, True
    for _ in range(level.step, budget):
        loop.boundary = False  # mid-step, z and the optimiser's state disagree
        row, bad = {}, []
        lr_now = level.opt.param_groups[0]["lr"]
        level.opt.step(_closure(objective, level, row, bad, loop.cfg.optimizer == "lbfgs"))
        _project(level.z, lo, hi)
        loop.step += 1
        row.update(step=loop.step, lr=lr_now, elapsed=time.perf_counter() - loop.t0, size=size, event="")
        loop.result.history.append(row)
        new = (level.z.detach() * std + mean).clamp(0, 1)
        why = blow_up(bad, row, new, level)
        if why and level.recoveries >= MAX_RECOVERIES:
            row["event"] = "diverged"
            loop.result.message = (f"{why} at step {loop.step}, after {level.recoveries} recoveries; kept the image "
                                   f"of step {loop.step - 1}. Lower lr or style_weight and run again")
            return "diverged"
        if why:   # the step is spent, not its damage: it counts in the budget, its loss in nothing
            x, early = recover(level, x, mean, std), False
            row["event"] = "recovered"
        else:
            level.best = min(level.best or (row["total"], x), (row["total"], x), key=lambda b: b[0])
            x = new
            optim.scheduler_step(level.sched, row["total"])
            early = level.stopper.should_stop(row["total"])
        level.step += 1
        level.done, level.reason = early or level.step == budget, "early_stop" if early else None
        row["event"] = row["event"] or ("early_stop" if early else "")
        loop.boundary = True  # the step is whole: report() may checkpoint it
        loop.report(row, x)
        if loop.stop_event is not None and loop.stop_event.is_set():
            row["event"] = "stopped"
            return "stopped"
        if early:
            return "early_stop"
    return None


def run(content, style, config: StyleConfig | None = None, callbacks=(), callback_every: int = 10,
        backbone=None, device=None, progress: bool = True, stop_event=None, checkpoints=None,
        resume_from: dict | None = None, masks=None, start=None, extra_loss=None) -> TransferResult:
    """Stylise `content` with `style`: paths to regular files, PIL images, (H, W[, 1|3|4]) arrays,
    or (C, H, W) / (1, C, H, W) tensors with C = 1, 3 or 4 (uint8 0-255, or float in [0, 1]; see
    start.as_image). `config` is validated again here (a field changed after preset() too).

    callbacks: callables f(step, losses_dict, image) called every `callback_every` steps and
    at the end; image is a detached (1,3,h,w) CPU tensor. A callback with a `start(levels)`
    method hears the run's plan (plan.Level list) before the first step. stop_event: anything
    with is_set() (threading.Event); when set, the run ends after the current step. Ctrl-C / the
    notebook's interrupt also ends it and returns what exists so far. A given `backbone` is never
    moved: on another device, the run uses a copy.

    checkpoints: where the run keeps its state, at the start, with every snapshot and when
    interrupted (runs.checkpoint.Checkpoints(folder); an exception from a callback is re-raised
    after that). resume_from: a checkpoint payload (runs.checkpoint.load) to go on from; content,
    style and config are then its own (pass None), and so must the backbone be (runs.checkpoint.resume).
    masks: one per style image (a path, PIL image, array or tensor; white = that style there), each
    style then goes to its region only (core/masks.py). start: an image (as content) to start from instead
    of cfg.init; extra_loss: f(image (1, 3, h, w)) -> 0-dim tensor added to the total (history: "extra");
    a caller's hooks (video/), never kept in a checkpoint: with either, no checkpoints or resume_from.
    """
    cfg = StyleConfig.from_dict(resume_from["config"]) if resume_from else checked(config)
    dev = pick_device(device)
    net = on_device(backbone, dev) if backbone is not None else load_backbone(cfg.backbone, pooling=cfg.pooling).to(dev)
    check_pooling(cfg, net)
    check_memory(cfg, dev, net.name, content if not resume_from else resume_from["content"], flag="size=")
    # resumed: the images as the run sized them, the same numbers whatever happened to the files since
    content_full, styles = ((resume_from["content"], resume_from.get("styles") or [resume_from["style"]]) if resume_from
                            else (as_image(content, cfg.size, "content"), style_images(style, cfg.size)))
    check_blend(cfg, len(styles))
    masks = resume_from.get("masks") if resume_from else given_masks(cfg, masks, content_full, len(styles))
    start = given_start(start, extra_loss, content_full, checkpoints is not None or resume_from is not None)
    levels = plan.plan(cfg, content_full.shape[-2:], net.min_size, net.name)
    check_stroke(cfg, levels, net)
    tiles.check(cfg, net, extra_loss)
    for cb in callbacks:
        if hasattr(cb, "start"):
            cb.start(levels)
    result = TransferResult(content_full, [], {}, cfg, net.name, str(dev), content=content_full, style=styles[0],
                            styles=styles, masks=masks,
                            weights=getattr(net, "weights", None),
                            folder=None if checkpoints is None else str(checkpoints.folder))
    bar = None
    if progress:
        from .progress import progress_bar  # tqdm on a terminal or in a notebook, plain lines in a log
        bar = progress_bar(total=cfg.steps, desc=f"{cfg.name} on {net.name}", unit="step")
    loop = state.Loop(result, cfg, tuple(callbacks), callback_every, stop_event, bar, time.perf_counter(), checkpoints)
    try:
        _run_levels(loop, net, levels, content_full, styles, resume_from, start, extra_loss)
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
    except BaseException as err:
        loop.keep_work_after(err)  # save what exists (with checkpoints), then let the error go on
        raise
    finally:
        if bar is not None:
            bar.close()
    if checkpoints is not None and result.stop_reason in ("interrupted", "stopped"):
        checkpoints.keep_work(loop)
    state.finish(loop)
    return result


def _run_levels(loop: state.Loop, net, levels: list, content_full, styles: list, resume_from, begin=None,
                extra_loss=None) -> None:
    """Every pyramid level in turn, from the checkpoint's level when resumed; sets stop_reason.
    The images are those the optimisation sees (preserve.prepare: the originals, or their luminance)."""
    result, dev = loop.result, torch.device(loop.result.device)
    saved, start = state.begin(loop, resume_from, len(levels))
    mode = loop.cfg.preserve_colour
    styles = [preserve.prepare(mode, content_full, s)[1] for s in styles]
    content_full = preserve.prepare(mode, content_full, styles[0])[0]
    for index, level in enumerate(levels):
        if index < start:
            continue  # finished before the checkpoint
        here = saved if saved and saved["index"] == index else None
        content_s = images.resize_to(content_full, level.shape).to(dev)
        styles_s = [images.resize_to(s, style_shape(level.shape, loop.cfg.stroke_size)).to(dev) for s in styles]
        masks_s = None if result.masks is None else [m.to(dev) for m in at_shape(result.masks, level.shape)]
        objective = (tiles.TiledObjective(net, loop.cfg, content_s, styles_s) if tiles.in_tiles(loop.cfg, level.shape)
                     else StyleObjective(net, loop.cfg, content_s, styles_s, masks_s, extra_loss))
        if here:
            x = loop.image
        elif loop.image is None:
            x = (initial_image(loop.cfg, content_s, styles_s[0]) if begin is None
                 else images.resize_to(preserve.prepare(mode, begin, styles[0])[0], level.shape).to(dev))
            x = x if objective.keep is None else objective.keep * x + (1 - objective.keep) * content_s  # photo outside
        else:
            x = images.resize_to(loop.image, level.shape)
        reason = _optimise_scale(loop, objective, x, level.steps, level.size, index, here)
        if reason in ("stopped", "diverged") or (reason == "early_stop" and index == len(levels) - 1):
            result.stop_reason = reason
        if reason in ("stopped", "diverged"):
            return

