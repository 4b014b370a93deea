import math

import pytest
import torch

from nst_helpers.core import optim, plan


def _quadratic_descent(optimizer: str, schedule: str, steps: int = 30) -> tuple[float, float]:
    """Minimise ||x - 3||^2 from 0 with the chosen optimiser/schedule; returns (first, last) loss."""
    x = torch.zeros(5, requires_grad=True)
    opt = optim.make_optimizer(optimizer, [x], lr=0.1 if optimizer == "adam" else 1.0)
    sched = optim.make_scheduler(schedule, opt, steps)
    seen = []

    def closure():
        opt.zero_grad()
        loss = ((x - 3) ** 2).sum()
        loss.backward()
        return loss

    for _ in range(steps):
        loss = opt.step(closure)
        seen.append(float(loss.detach()))
        optim.scheduler_step(sched, seen[-1])
    return seen[0], float(((x.detach() - 3) ** 2).sum())


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
@pytest.mark.parametrize("schedule", ["constant", "cosine", "step", "plateau"])
def test_each_optimizer_and_schedule_reduces_the_loss(optimizer, schedule):
    first, last = _quadratic_descent(optimizer, schedule)
    assert last < first * 0.5


def test_schedules_change_the_lr_as_documented():
    p = [torch.zeros(1, requires_grad=True)]
    opt = optim.make_optimizer("adam", p, lr=1.0)
    sched = optim.make_scheduler("step", opt, 100)
    lrs = []
    for _ in range(100):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    assert lrs[0] == 1.0 and lrs[49] == 1.0 and lrs[50] == 0.5 and lrs[75] == 0.25
    opt = optim.make_optimizer("adam", p, lr=1.0)
    cos = optim.make_scheduler("cosine", opt, 10)
    for _ in range(10):
        opt.step()
        cos.step()
    assert math.isclose(opt.param_groups[0]["lr"], 0.01, rel_tol=1e-6)
    assert optim.make_scheduler("constant", opt, 10) is None


def test_plateau_schedule_halves_lr_on_a_flat_loss():
    p = [torch.zeros(1, requires_grad=True)]
    opt = optim.make_optimizer("adam", p, lr=1.0)
    sched = optim.make_scheduler("plateau", opt, 100)  # patience 10
    for _ in range(30):
        optim.scheduler_step(sched, 5.0)
    assert opt.param_groups[0]["lr"] < 1.0


def test_early_stopping_stops_on_flat_loss_only():
    flat = optim.EarlyStopping(window=5, tol=1e-3)
    stops = [flat.should_stop(1.0) for _ in range(10)]
    assert stops.index(True) == 5  # needs window+1 values, then sees no improvement
    falling = optim.EarlyStopping(window=5, tol=1e-3)
    assert not any(falling.should_stop(1.0 / (k + 1)) for k in range(50))
    off = optim.EarlyStopping(window=0, tol=1e-3)
    assert not any(off.should_stop(1.0) for _ in range(50))


def test_pyramid_sizes_and_step_split():
    assert plan.pyramid_sizes(512, 1) == [512]
    sizes = plan.pyramid_sizes(512, 3)
    assert sizes == [256, 362, 512]
    assert all(math.isclose(b / a, math.sqrt(2), rel_tol=0.01) for a, b in zip(sizes, sizes[1:]))
    assert plan.split_steps(10, 3) == [3, 3, 4]
    assert plan.split_steps(10, 2, [4, 6]) == [4, 6]
