"""Optimisers, learning-rate schedules, early stopping and the multi-scale pyramid.

Small pieces the loop in `transfer` combines; each is chosen by a StyleConfig field.
"""
import math

import torch


def make_optimizer(name: str, params: list, lr: float) -> torch.optim.Optimizer:
    """Adam (the seed's) or L-BFGS (Gatys et al.'s; one .step() = one iteration here)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "lbfgs":
        # max_iter=1 so every loop step is one iteration: snapshots, callbacks and the
        # Stop button work per iteration, and the history stays one row per step.
        return torch.optim.LBFGS(params, lr=lr, max_iter=1, history_size=50,
                                 line_search_fn="strong_wolfe")
    raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'lbfgs'")


def make_scheduler(name: str, optimizer: torch.optim.Optimizer, steps: int):
    """constant | cosine (to 1% of lr) | step (x0.5 at 50% and 75%) | plateau (x0.5 after 50 flat steps).

    Returns None for constant. The plateau scheduler's .step() wants the loss; the others don't.
    """
    sched = torch.optim.lr_scheduler
    if name == "constant":
        return None
    if name == "cosine":
        return sched.CosineAnnealingLR(optimizer, T_max=max(steps, 1), eta_min=optimizer.defaults["lr"] * 0.01)
    if name == "step":
        return sched.MultiStepLR(optimizer, milestones=[steps // 2, (3 * steps) // 4], gamma=0.5)
    if name == "plateau":
        return sched.ReduceLROnPlateau(optimizer, factor=0.5, patience=min(50, max(steps // 10, 1)),
                                       threshold=1e-3)
    raise ValueError(f"unknown lr_schedule {name!r}; use constant, cosine, step or plateau")


def scheduler_step(scheduler, loss: float) -> None:
    if scheduler is None:
        return
    if isinstance(scheduler, torch.optim.lr_scheduler.ReduceLROnPlateau):
        scheduler.step(loss)
    else:
        scheduler.step()


class EarlyStopping:
    """Stop when the best loss of the last `window` steps is not `tol` (relative) below the
    best loss before them. window=0 never stops."""

    def __init__(self, window: int, tol: float):
        self.window, self.tol, self.losses = window, tol, []

    def should_stop(self, loss: float) -> bool:
        self.losses.append(loss)
        if self.window <= 0 or len(self.losses) <= self.window:
            return False
        before = min(self.losses[: -self.window])
        recent = min(self.losses[-self.window:])
        return recent > before * (1 - self.tol)


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
