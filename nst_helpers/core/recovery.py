"""When a step blows the image up (a NaN or infinite loss, gradient or image, or a loss far above
the level's best), the loop does not end the run: it goes back to the level's best image, forgets
the optimiser's memory and halves its step, and says "recovered" in that step's history row.
Only a level that blows up again after MAX_RECOVERIES such recoveries ends the run as diverged.
"""
import torch

from . import state

EXPLODED = 1e3       # a loss this many times the level's best: the previous step threw the image far off
MAX_RECOVERIES = 3   # blow-ups a level recovers from before the run ends as diverged


def blow_up(bad: list, row: dict, new: torch.Tensor, level: state.ScaleState) -> str | None:
    """What went wrong in this step, in words, or None: a NaN or infinite loss, gradient or image,
    or a loss EXPLODED times the scale's best (the previous step threw the image far off)."""
    if bad or not torch.isfinite(new).all():
        return f"{bad[0] if bad else 'the image'} became NaN or infinite"
    if level.best is not None and row["total"] > EXPLODED * level.best[0] > 0:
        return f"the loss jumped to {row['total']:.3g}, {row['total'] / level.best[0]:.0f} times its best"
    return None


def recover(level: state.ScaleState, start: torch.Tensor, mean, std) -> torch.Tensor:
    """After a blow-up: z back to the scale's best image (else `start`, where this step began),
    the optimiser's memory forgotten and its step halved; returns that image. The next step
    starts afresh there."""
    image = level.best[1] if level.best is not None else start
    with torch.no_grad():
        level.z.copy_((image - mean) / std)
    level.opt.state.clear()
    level.memo.clear()
    for group in level.opt.param_groups:
        group["lr"] *= 0.5
    level.recoveries += 1
    return image
