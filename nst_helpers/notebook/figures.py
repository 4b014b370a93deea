"""Figures for the notebooks beyond runs/plots.py's: what the optimiser changed (00), how the presets differ (04).

    fig = changes_from_start(result)        # the start, a few snapshots, and under each what moved
    fig = preset_differences({"baseline": a, "exp1": b})   # one crop of each, and each one's difference map

A snapshot grid alone shows little when the run starts from the photo in the painting's colours:
step 1 already looks like the end. The difference from the start shows what the steps added.
"""
import math

import torch
from matplotlib.colors import PowerNorm
from matplotlib.figure import Figure

from ..core import plan
from ..core.images import resize_to, to_pil
from ..core.start import initial_image

STARTS = {"content_in_style_colours": "start: the photo\nin the painting's\ncolours", "content": "start:\nthe photo",
          "style": "start:\nthe painting", "noise": "start:\nnoise"}   # StyleConfig.init -> the start's title


def pick_steps(steps, n: int = 6) -> list[int]:
    """Up to `n` of `steps`, spaced evenly on a log scale from the first to the last (both kept):
    a run changes most early, so early steps get more of the picks."""
    steps = sorted(steps)
    if len(steps) <= n:
        return steps
    lo, hi = math.log(steps[0]), math.log(steps[-1])
    picked = []
    for k in range(n):
        target = math.exp(lo + (hi - lo) * k / (n - 1))
        nearest = min((s for s in steps if s not in picked), key=lambda s: abs(math.log(s) - math.log(target)))
        picked.append(nearest)
    return sorted(picked)


def start_at(result, shape) -> torch.Tensor:
    """The run's image before any step, at `shape` (h, w): core.start.initial_image made at the
    first pyramid level's size, as the run makes it, and enlarged level by level as the run
    enlarges its image. The difference from it is what the optimiser's steps did, and nothing else."""
    hw, full = tuple(result.content.shape[-2:]), max(result.content.shape[-2:])
    sizes = list(dict.fromkeys(row["size"] for row in result.history))   # the levels' sides, in order
    shapes = [plan.level_shape(hw, size, full) for size in sizes]
    content, style = (resize_to(x, shapes[0]) for x in (result.content, result.style))
    image = initial_image(result.config, content, style)
    target = tuple(shape)
    for level in shapes[1:shapes.index(target) + 1] if target in shapes else []:
        image = resize_to(image, level)
    return image if tuple(image.shape[-2:]) == target else resize_to(image, target)


def change_maps(result, steps) -> dict:
    """{step: (h, w) tensor}: how far each pixel of snapshot `step` is from the start at its size,
    the mean over R, G and B of the absolute difference (pixel values 0..1)."""
    return {s: (result.snapshots[s] - start_at(result, result.snapshots[s].shape[-2:])).abs().mean(1)[0]
            for s in steps}


def mean_changes(result, steps=None) -> dict:
    """{step: mean change from the start} for `steps` (default: every snapshot)."""
    return {s: float(m.mean()) for s, m in change_maps(result, steps or sorted(result.snapshots)).items()}


def changes_from_start(result, steps=None, width: float = 13.0) -> Figure:
    """Top row: the photo, the start and the snapshots of `steps` (default: six picked on a log
    scale); bottom row, under each snapshot: its change from the start, on one colour scale for all
    (a square-root scale, so that the small early changes show)."""
    steps = list(steps) if steps is not None else pick_steps(result.snapshots)
    maps = change_maps(result, steps)
    top = max(float(torch.quantile(m.flatten(), 0.99)) for m in maps.values()) or 1.0
    cols = len(steps) + 2
    fig = Figure(figsize=(width, 2 * width / cols + 1.0), layout="constrained")
    axes = fig.subplots(2, cols, squeeze=False)
    for ax in axes.ravel():
        ax.axis("off")
    start = start_at(result, result.snapshots[steps[0]].shape[-2:])
    for ax, image, title in ((axes[0, 0], result.content, "photo"),
                             (axes[0, 1], start, STARTS.get(result.config.init, "start"))):
        ax.imshow(to_pil(image))
        ax.set_title(title)
    shown = None
    for col, s in enumerate(steps, 2):
        axes[0, col].imshow(to_pil(result.snapshots[s]))
        axes[0, col].set_title(f"step {s}\n({result.snapshots[s].shape[-1]} px)")
        shown = axes[1, col].imshow(maps[s].numpy(), cmap="magma", norm=PowerNorm(0.5, vmin=0, vmax=top))
        axes[1, col].set_title(f"changed {float(maps[s].mean()):.3f}")
    axes[1, 1].text(0.5, 0.5, "change from\nthe start\n(mean over RGB;\n0 = unchanged)", ha="center",
                    va="center", transform=axes[1, 1].transAxes)
    fig.colorbar(shown, ax=axes[1, -1], fraction=0.08, label="|snapshot - start|")
    return fig


def busiest_window(image: torch.Tensor, side: int) -> tuple[int, int]:
    """(top, left) of the `side` x `side` window of (1, 3, H, W) `image` with the most detail
    (the largest mean absolute neighbour difference): where the presets' strokes differ most visibly."""
    grey = image.mean(1, keepdim=True)
    detail = (grey[..., 1:, :-1] - grey[..., :-1, :-1]).abs() + (grey[..., :-1, 1:] - grey[..., :-1, :-1]).abs()
    score = torch.nn.functional.avg_pool2d(detail, side, stride=max(1, side // 4))
    row, col = divmod(int(score.flatten().argmax()), score.shape[-1])
    return row * max(1, side // 4), col * max(1, side // 4)


def preset_differences(images: dict, reference: str = "baseline", width: float = 13.0) -> Figure:
    """The presets side by side where a reader can see them differ. images: {name: (1, 3, H, W)},
    one shape. Top row: the same crop (a quarter of the side, the reference's busiest window) of
    each, enlarged; bottom row, under each other preset: how far it is from the reference, per
    pixel (mean over RGB of the absolute difference, one colour scale for all)."""
    ref = images[reference]
    h, w = ref.shape[-2:]
    side = max(8, min(h, w) // 4)
    top, left = busiest_window(ref, side)
    maps = {n: (x - ref).abs().mean(1)[0] for n, x in images.items() if n != reference}
    vmax = max(float(torch.quantile(m.flatten(), 0.99)) for m in maps.values()) or 1.0
    fig = Figure(figsize=(width, 2 * width / len(images) + 1.0), layout="constrained")
    axes = fig.subplots(2, len(images), squeeze=False)
    shown = None
    for col, (name, image) in enumerate(images.items()):
        for ax in axes[:, col]:
            ax.axis("off")
        axes[0, col].imshow(to_pil(image[..., top:top + side, left:left + side]), interpolation="nearest")
        axes[0, col].set_title(f"{name}: crop {side} px")
        if name in maps:
            shown = axes[1, col].imshow(maps[name].numpy(), cmap="magma", vmin=0, vmax=vmax)
            axes[1, col].set_title(f"differs from {reference} by {float(maps[name].mean()):.3f}")
    axes[1, 0].text(0.5, 0.5, f"|preset - {reference}|\n(mean over RGB;\n0 = the same pixel)", ha="center",
                    va="center", transform=axes[1, 0].transAxes)
    if shown is not None:
        fig.colorbar(shown, ax=axes[1, -1], fraction=0.08)
    return fig
