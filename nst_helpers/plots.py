"""Pictures of a run: side-by-side comparison, loss curves, snapshot grid, progress GIF.

Figures are built with matplotlib's object API (no pyplot state), so they work the same
in a notebook, a thread or a headless CI run. A bare Figure has no image repr in a kernel
where pyplot was never imported: notebooks show them as PNGs (png_bytes, notebook.show).
"""
import io
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from .images import resize_to, to_pil


def _show(ax, image, title):
    ax.imshow(to_pil(image))
    ax.set_title(title)
    ax.axis("off")


def comparison_figure(content, style, result, title: str | None = None, width: float = 12.0) -> Figure:
    """content | style | result, each (1, 3, H, W) in [0, 1], with titles."""
    fig = Figure(figsize=(width, width / 3 + 0.6), layout="constrained")
    for ax, img, name in zip(fig.subplots(1, 3), (content, style, result), ("content", "style", "result")):
        _show(ax, img, name)
    if title:
        fig.suptitle(title)
    return fig


def weighted_terms(history: list, config) -> dict:
    """Per-step total, weighted content and weighted style loss, as lists keyed by name."""
    return {
        "total": [r["total"] for r in history],
        f"content x {config.content_weight:g}": [r["content"] * config.content_weight for r in history],
        f"style x {config.style_weight:g}": [r["style"] * config.style_weight for r in history],
    }


def draw_losses(ax, history: list, config, label_prefix: str = "") -> None:
    """Total, content and style loss (weighted, log scale) against the step, on `ax`."""
    steps = [r["step"] for r in history]
    for name, values in weighted_terms(history, config).items():
        # a term that is exactly 0 (content at step 1 when starting from the photo) has no
        # place on a log axis: leave it out rather than stretch the axis down to a floor
        ax.plot(steps, [v if v > 0 else float("nan") for v in values], label=label_prefix + name)
    changes = [r["step"] for a, r in zip(history, history[1:]) if r["size"] != a["size"]]
    for s in changes:  # mark where a multi-scale run moved to a finer scale
        ax.axvline(s, color="grey", lw=0.8, ls=":")
    ax.set_yscale("log")
    ax.set_xlabel("step")
    ax.set_ylabel("loss (weighted)")
    ax.legend(loc="upper right", fontsize="small")
    ax.grid(alpha=0.3)


def loss_figure(history: list, config, title: str | None = None) -> Figure:
    fig = Figure(figsize=(7, 4), layout="constrained")
    ax = fig.subplots()
    if history:
        draw_losses(ax, history, config)
    ax.set_title(title or f"{config.name}: loss over {len(history)} steps")
    return fig


def snapshot_grid(snapshots: dict, columns: int = 5, width: float = 12.0) -> Figure:
    """The snapshots {step: image} as a grid titled by step."""
    steps = sorted(snapshots)
    rows = max(1, math.ceil(len(steps) / columns))
    cols = min(columns, max(len(steps), 1))
    fig = Figure(figsize=(width, width / cols * rows + 0.3 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, s in zip(axes, steps):
        _show(ax, snapshots[s], f"step {s}")
    return fig


def png_bytes(fig: Figure, dpi: int = 80) -> bytes:
    """The figure rendered to PNG bytes with its own Agg canvas (no pyplot: safe in a thread)."""
    FigureCanvasAgg(fig)
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    return buf.getvalue()


def explorer_png(content, style, current, history, config, title="", dpi=72) -> bytes:
    """content | style | current result over the loss curves, as PNG bytes.

    content, style, current: (1, 3, H, W) in [0, 1] (current may be None); history: rows of
    transfer.run. A fresh Figure each time: no shared state between threads.
    """
    fig = Figure(figsize=(9.6, 6.4))  # fixed margins: constrained layout would double the draw time
    grid = fig.add_gridspec(2, 3, height_ratios=(1.0, 0.75), left=0.08, right=0.98, top=0.9, bottom=0.08,
                            wspace=0.05, hspace=0.2)
    for col, (img, name) in enumerate(((content, "content"), (style, "style"), (current, "result"))):
        ax = fig.add_subplot(grid[0, col])
        ax.axis("off")
        ax.set_title(name)
        if img is None:
            ax.text(0.5, 0.5, "appears here", ha="center", va="center", transform=ax.transAxes)
        else:
            pil = to_pil(img)
            pil.thumbnail((256, 256))  # a third of a 700 px figure: smaller draws faster
            ax.imshow(pil)
    ax = fig.add_subplot(grid[1, :])
    if history:
        draw_losses(ax, history, config)
    else:
        ax.text(0.5, 0.5, "loss curves appear here after Run", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return png_bytes(fig, dpi)  # dpi 72: ~690x460 px



def save_gif(snapshots: dict, path, frame_ms: int = 400) -> None:
    """Animate the snapshots in step order, all resized to the last one's size; last frame held longer."""
    steps = sorted(snapshots)
    final = snapshots[steps[-1]]
    hw = tuple(final.shape[-2:])
    frames = [to_pil(resize_to(snapshots[s], hw) if tuple(snapshots[s].shape[-2:]) != hw else snapshots[s])
              for s in steps]
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)
