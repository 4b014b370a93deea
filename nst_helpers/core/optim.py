"""Optimisers, learning-rate schedules and early stopping (the pyramid plan is plan.py).

Small pieces the loop in `transfer` combines; each is chosen by a StyleConfig field.
"""

import torch


def make_optimizer(name: str, params: list, lr: float) -> torch.optim.Optimizer:
    """Adam (the seed's) or L-BFGS (Gatys et al.'s; one .step() = one iteration here)."""
    if name == "adam":
        return torch.optim.Adam(params, lr=lr)
    if name == "lbfgs":
        # max_iter=1 so every loop step is one iteration: snapshots, callbacks and the
        # Stop button work per iteration, and the history stays one row per step.
        # max_eval must be given: torch's default, max_iter * 5 // 4 = 1, leaves the line
        # search no evaluation to spare, so one rejected step stalls it for good. A history
        # of 20 needs as many steps as 50 here (10 barely more), at less vector work per step.
        return RestartingLBFGS(params, lr=lr, max_iter=1, max_eval=10, history_size=20,
                               line_search_fn="strong_wolfe")
    raise ValueError(f"unknown optimizer {name!r}; use 'adam' or 'lbfgs'")


class RestartingLBFGS(torch.optim.LBFGS):
    """torch's L-BFGS with two changes for images:

    * a fresh start (the first step, or after a restart) moves the largest coordinate by
      lr * `first_step`; torch's own first step, lr / sum|g|, shrinks with the pixel count until a
      bf16 backbone cannot see it at all (it rounds the input) and the line search fails;
    * a line search that finds no lower point (step length 0) makes it forget its curvature
      history and start afresh, where plain L-BFGS would retry the same failed direction.
    """

    def __init__(self, params, first_step: float = 0.5, **kw):
        super().__init__(params, **kw)
        self.first_step = first_step

    def step(self, closure):
        group, state = self.param_groups[0], self.state[self._params[0]]
        lr = group["lr"]
        if not state and self.first_step:  # torch takes t = lr * min(1, 1/sum|g|) here
            with torch.enable_grad():
                closure()  # (transfer's closure caches this point: no extra evaluation)
            g = self._gather_flat_grad()
            if g.abs().max() > 0:
                group["lr"] = lr * self.first_step / (g.abs().max().item() * min(1.0, 1.0 / g.abs().sum().item()))
        try:
            loss = super().step(closure)
        finally:
            group["lr"] = lr
        if state.get("t", 1) == 0:
            state.clear()
        return loss


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
