"""What a checkpoint must hold before a resume trusts it. A hand-edited or foreign checkpoint.pt
(a wrong shape, a step past the budget, another preset's config) used to end in a traceback deep
in the optimiser, or worse, in a folder saved as "completed" after 17 of 300 steps. Each check
returns why the payload cannot be resumed, in words, or None; runs/checkpoint.py turns that into
one ResumeError line.

`problem(saved)` checks what the payload alone can say; `plan_problem(saved, levels)` what needs
the run's plan (its pyramid levels, known once the backbone is loaded).
"""
import math

import torch

from ..backbones.layers import BACKBONES
from ..core.config import StyleConfig

KEYS = ("config", "backbone", "device", "content", "style", "step", "elapsed", "history", "snapshots",
        "rng", "image", "scale")
SCALE_KEYS = ("index", "step", "done", "reason", "z", "optimizer", "scheduler", "stopper", "memo", "recoveries", "best")


def _count(v) -> bool:
    return isinstance(v, int) and not isinstance(v, bool) and v >= 0


def image_problem(name: str, t) -> str | None:
    """Why `t` is not a (1, 3, h, w) float image with finite values, or None."""
    if not isinstance(t, torch.Tensor) or t.dim() != 4 or t.shape[:2] != (1, 3) or not t.is_floating_point():
        return f"its {name} is not a (1, 3, H, W) float image"
    if not torch.isfinite(t).all():
        return f"its {name} holds NaN or infinite values"
    return None


def _tensors(obj):
    """Every tensor inside nested dicts, lists and tuples."""
    if isinstance(obj, torch.Tensor):
        yield obj
    elif isinstance(obj, dict):
        for v in obj.values():
            yield from _tensors(v)
    elif isinstance(obj, (list, tuple)):
        for v in obj:
            yield from _tensors(v)


def _scale_problem(scale, step: int, image, cfg: StyleConfig) -> str | None:
    if not isinstance(scale, dict) or any(k not in scale for k in SCALE_KEYS):
        return "its scale state is incomplete"
    if not (_count(scale["index"]) and _count(scale["step"]) and _count(scale["recoveries"])):
        return "its scale index, step or recovery count is not a whole number >= 0"
    if scale["step"] > step:
        return f"its scale is at step {scale['step']}, past the run's step {step}"
    if why := image_problem("optimised image z", scale["z"]):
        return why
    z = scale["z"]
    if image is not None and image.shape != z.shape:
        return f"its image {tuple(image.shape)} and its optimised image z {tuple(z.shape)} differ in shape"
    opt = scale["optimizer"]
    if not isinstance(opt, dict) or not isinstance(opt.get("param_groups"), list) or "state" not in opt:
        return "its optimiser state is not one torch wrote"
    lbfgs = any("history_size" in g for g in opt["param_groups"] if isinstance(g, dict))
    if lbfgs != (cfg.optimizer == "lbfgs"):
        return f"its optimiser state is {'L-BFGS' if lbfgs else 'Adam'}'s, but its config says {cfg.optimizer}"
    # Adam's moments and L-BFGS's directions have z's size; counters and step sizes are scalars
    if any(t.numel() not in (1, z.numel()) for t in _tensors(opt["state"])):
        return "its optimiser state does not fit the image (another size)"
    return None


def _masks_problem(masks, content, count: int) -> str | None:
    """Why the payload's masks (None, or one (1, 1, H, W) in [0, 1] per style at the content's size) are bad."""
    if masks is None:
        return None
    if not isinstance(masks, list) or len(masks) != count or any(
            not isinstance(m, torch.Tensor) or m.dim() != 4 or m.shape[:2] != (1, 1) or not m.is_floating_point()
            or m.shape[-2:] != content.shape[-2:] or not torch.isfinite(m).all() for m in masks):
        return f"its masks are not {count} (1, 1, H, W) float masks of the content's size"
    return None


def problem(saved: dict) -> str | None:
    """Why the payload `saved` cannot be resumed, or None (see the module docstring)."""
    missing = [k for k in KEYS if k not in saved]
    if missing:
        return f"its checkpoint lacks {', '.join(missing)}"
    try:
        cfg = StyleConfig.from_dict(saved["config"])
    except (ValueError, TypeError) as err:
        return f"its config is not valid ({err})"
    if saved["backbone"] not in BACKBONES or saved["backbone"] == "auto":
        return f"its backbone {saved['backbone']!r} is not one of {', '.join(b for b in BACKBONES if b != 'auto')}"
    for name in ("content", "style", "image"):
        if (saved[name] is not None or name != "image") and (why := image_problem(name, saved[name])):
            return why
    styles = saved.get("styles", [saved["style"]])
    if not isinstance(styles, list) or not styles or any(image_problem("style", s) for s in styles):
        return "its style images are not a list of (1, 3, H, W) float images"
    if cfg.style_blend is not None and len(cfg.style_blend) != len(styles):
        return f"its config blends {len(cfg.style_blend)} styles, but it holds {len(styles)}"
    if why := _masks_problem(saved.get("masks"), saved["content"], len(styles)):
        return why
    step = saved["step"]
    if not _count(step) or step > cfg.steps:
        return f"its step {step!r} is not a whole number from 0 to the run's {cfg.steps} steps"
    if not isinstance(saved["history"], list) or len(saved["history"]) != step:
        return f"its history does not have one row for each of its {step} steps"
    elapsed = saved["elapsed"]
    if not isinstance(elapsed, (int, float)) or not math.isfinite(elapsed) or elapsed < 0:
        return "its elapsed time is not a number of seconds"
    rng = saved["rng"]
    if not isinstance(rng, torch.Tensor) or rng.dtype != torch.uint8 or rng.shape != torch.get_rng_state().shape:
        return "its random-number state is not one torch wrote"
    snaps = saved["snapshots"]
    if not isinstance(snaps, list) or not all(_count(s) and s <= step for s in snaps):
        return "its list of snapshots is not a list of steps up to its own"
    if saved["scale"] is not None:
        return _scale_problem(saved["scale"], step, saved["image"], cfg)
    return None


def plan_problem(saved: dict, levels: list) -> str | None:
    """Why the payload does not fit the run's plan (plan.Level list), or None."""
    scale = saved["scale"]
    if scale is None:
        return None if saved["step"] == 0 else f"it has no scale state at step {saved['step']}"
    index = scale["index"]
    if index >= len(levels):
        return f"it is at pyramid scale {index + 1}, but its config plans {len(levels)}"
    level = levels[index]
    if scale["step"] > level.steps:
        return f"its scale {index + 1} is at step {scale['step']} of a budget of {level.steps}"
    if tuple(scale["z"].shape[-2:]) != tuple(level.shape):
        return f"its image is {tuple(scale['z'].shape[-2:])}, but scale {index + 1} is {tuple(level.shape)}"
    if saved["step"] > sum(lv.steps for lv in levels[:index]) + scale["step"]:
        return f"its step {saved['step']} is more than its scales' steps add up to"
    return None
