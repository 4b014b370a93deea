"""The plan of a run: its pyramid levels (size, shape, steps) and how often it keeps a snapshot.

One function decides the levels, and everything that needs them asks it: the loop (transfer),
the memory check (runs/memory), the duration estimate (runs/duration) and the explorer's status
line. A second copy of the rule would be a bug waiting for the first to change.

    levels = plan(cfg, content_hw=(384, 512), min_size=32)
    [Level(size=256, shape=(192, 256), steps=50), Level(362, (272, 362), 50), Level(512, (384, 512), 50)]

Pure Python: no torch, so the command line can plan before it loads anything.
"""
import math
from dataclasses import dataclass

SNAPSHOTS_ON_SHORT_RUNS = 5  # a run too short for its preset's snapshot interval keeps about this many


@dataclass(frozen=True)
class Level:
    """One pyramid level: its longest side (px), its (h, w), and the optimiser steps it gets."""
    size: int
    shape: tuple
    steps: int

    @property
    def pixels(self) -> int:
        return self.shape[0] * self.shape[1]


def pyramid_sizes(size: int, scales: int) -> list[int]:
    """Longest sides, coarse to fine, a factor sqrt(2) apart, ending exactly at `size`."""
    return [max(16, round(size / math.sqrt(2) ** k)) for k in reversed(range(scales))]


def split_steps(steps: int, scales: int, scale_steps: list | None = None) -> list[int]:
    """Step budget per scale: the explicit list, else an equal split (the remainder to the finest)."""
    if scale_steps is not None:
        return list(scale_steps)
    base = [steps // scales] * scales
    base[-1] += steps - sum(base)
    return base


def level_shape(full_hw, size: int, full_size: int) -> tuple[int, int]:
    """(h, w) of a pyramid level whose longest side is `size`, for an image (h, w) at `full_size`."""
    h, w = full_hw
    return max(1, round(h * size / full_size)), max(1, round(w * size / full_size))


def plan(cfg, content_hw=None, min_size: int = 1, name: str = "the backbone") -> list[Level]:
    """The levels a run of `cfg` optimises, coarse to fine, for a content image of (h, w)
    `content_hw` at cfg.size (None: square). A level whose short side is under `min_size` (the
    backbone's) is dropped and its steps go to the next finer one, so a wide image keeps the
    whole budget; a finest level that is too thin is a ValueError saying what to raise."""
    hw = tuple(content_hw) if content_hw is not None else (cfg.size, cfg.size)
    sizes, budgets = pyramid_sizes(cfg.size, cfg.scales), split_steps(cfg.steps, cfg.scales, cfg.scale_steps)
    levels = [Level(s, level_shape(hw, s, cfg.size), b) for s, b in zip(sizes, budgets)]
    if min(levels[-1].shape) < min_size:
        raise ValueError(f"content image is {hw} at size={cfg.size}; {name} needs at least {min_size} px "
                         "per side: raise size")
    while min(levels[0].shape) < min_size:  # too thin for the backbone: its steps go one finer
        thin, nxt = levels[0], levels[1]
        levels = [Level(nxt.size, nxt.shape, thin.steps + nxt.steps), *levels[2:]]
    return levels


def snapshot_every(steps: int, every: int) -> int:
    """The snapshot interval for a run of `steps`: `every`, unless that leaves fewer than two
    snapshots in the run; then about SNAPSHOTS_ON_SHORT_RUNS of them (a 30-step look at a preset
    made for 5000 steps still shows its progress)."""
    return every if every * 2 <= steps else max(1, steps // SNAPSHOTS_ON_SHORT_RUNS)


def describe(levels: list[Level]) -> str:
    """The plan in words, as the explorer's status line and the notebooks say it:
    '150 steps on a 3-level pyramid (256, 362, 512 px)' or '300 steps at 512 px'."""
    steps = sum(lv.steps for lv in levels)
    counted = f"{steps} step{'s' if steps != 1 else ''}"
    if len(levels) == 1:
        return f"{counted} at {levels[0].size} px"
    sizes = ", ".join(str(lv.size) for lv in levels)
    return f"{counted} on a {len(levels)}-level pyramid ({sizes} px)"


def rescale(budgets: list, steps: int) -> list:
    """Split `steps` in the proportions of `budgets` (each >= 1; fewer scales if steps is tiny)."""
    budgets = budgets[-steps:] if steps < len(budgets) else budgets
    out = [max(1, round(steps * b / sum(budgets))) for b in budgets[:-1]]
    return out + [steps - sum(out)] if steps - sum(out) >= 1 else [steps]
