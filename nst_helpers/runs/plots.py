"""Pictures of runs: side-by-side comparison, loss curves, snapshot grid, progress GIF, the
explorer's figure, and grids and loss overlays that compare runs.

Figures are built with matplotlib's object API (no pyplot state), so they work the same
in a notebook, a thread or a headless CI run. A bare Figure has no image repr in a kernel
where pyplot was never imported: notebooks show them as PNGs (png_bytes, notebook.live.show).
"""
import io
import math

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from ..core.images import resize_to, to_pil


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


def factor(x: float) -> str:
    """A loss weight in two significant digits, as a person writes it: 1.8e8, 5e5, 0.5, 3, 100."""
    if x == 0 or 1e-2 <= abs(x) < 1e4:
        return f"{float(f'{x:.2g}'):g}"
    mantissa, exponent = f"{x:.1e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(exponent)}"


def weighted_terms(history: list, config) -> dict:
    """Per-step total, weighted content and style loss (and total variation, when it is weighted),
    as lists keyed by legend label."""
    terms = {
        "total": [r["total"] for r in history],
        f"content × {factor(config.content_weight)}": [r["content"] * config.content_weight for r in history],
        f"style × {factor(config.style_weight)}": [r["style"] * config.style_weight for r in history],
    }
    if config.tv_weight:
        terms[f"TV × {factor(config.tv_weight)}"] = [r.get("tv", 0.0) * config.tv_weight for r in history]
    return terms


LOG_RANGE = (-250.0, 250.0)   # log10 limits of an axis: matplotlib's ticks overflow near the float range
START_FLOOR = 1e-4  # a curve is drawn from its first value within this factor of its median


def visible(values: list, total: list | None = None) -> list:
    """The values to draw on a log axis: NaN for non-positive, non-finite and astronomic ones
    (LOG_RANGE), and for a start far below the curve's median (the content term starts at ~1e-11
    when the target starts as the photo: drawn, it would stretch the axis over ten empty decades). `total`: the total loss at the same steps;
    a first value that far below the total's first is a start too (a run of one step has no
    median to compare it with)."""
    bottom, top = 10 ** LOG_RANGE[0], 10 ** LOG_RANGE[1]   # past them (a weight of 1e300): not drawable
    out = [v if bottom < v < top else float("nan") for v in values]
    if out and total and math.isfinite(total[0]) and not out[0] >= total[0] * START_FLOOR:
        out[0] = float("nan")
    finite = sorted(v for v in out if not math.isnan(v))
    if not finite:
        return out
    floor = finite[len(finite) // 2] * START_FLOOR
    first = next(i for i, v in enumerate(out) if not math.isnan(v) and v >= floor)
    return [float("nan")] * first + out[first:]


def loss_limits(curves) -> tuple[float, float] | None:
    """Log-axis limits that hold every drawn point of `curves` (lists from `visible`), with a margin."""
    drawn = [v for c in curves for v in c if not math.isnan(v)]
    if not drawn:
        return None
    lo, hi = math.log10(min(drawn)), math.log10(max(drawn))
    pad = max(0.05 * (hi - lo), 0.1)  # at least a fifth of a decade in all, so a flat line shows
    # a run with a weight of 1e300 has values near the largest float: those are drawn cut at the top
    return 10 ** max(lo - pad, LOG_RANGE[0]), 10 ** min(hi + pad, LOG_RANGE[1])


def lone(values: list) -> list[int]:
    """Indices of the drawn (non-NaN) values with no drawn neighbour: a line has no segment
    there, so it would hold the axis open for a point nobody sees (a run stopped at step 2: the
    content term's only point, the step-1 photo start not drawn). They get a marker."""
    drawn = [not math.isnan(v) for v in values]
    return [i for i, d in enumerate(drawn)
            if d and not (i > 0 and drawn[i - 1]) and not (i + 1 < len(drawn) and drawn[i + 1])]


def legend_beside(ax) -> None:
    """The legend outside the data area, to the right of the axes, in the axes' own font size:
    inside, it covered the curves (the spikes where a pyramid moves to a finer scale)."""
    ax.legend(loc="upper left", bbox_to_anchor=(1.02, 1.0), borderaxespad=0.0, frameon=False,
              handlelength=1.5, fontsize="medium")


def draw_losses(ax, history: list, config, label_prefix: str = "") -> None:
    """Total, content and style loss (weighted, log scale) against the step, on `ax`; the y axis
    spans every drawn point (and every point it spans is drawn: a lone one as a dot); the legend
    beside the axes, so the figure needs room on the right (constrained layout makes it)."""
    steps = [r["step"] for r in history]
    curves, off = [], []
    terms = weighted_terms(history, config)
    for name, values in terms.items():
        curves.append(visible(values, terms["total"]))
        if any(not v < 10 ** LOG_RANGE[1] for v in values):   # inf, NaN or astronomic: say so, not only omit
            off.append(label_prefix + name)
        dots = lone(curves[-1])
        ax.plot(steps, curves[-1], label=label_prefix + name, marker="o" if dots else None, ms=4, markevery=dots)
    changes = [(r["step"], r["size"]) for a, r in zip(history, history[1:]) if r["size"] != a["size"]]
    for s, size in changes:  # mark where a multi-scale run moved to a finer scale, and to which
        ax.axvline(s, color="grey", lw=0.8, ls=":")
        ax.annotate(f"{size} px", (s, 1), xycoords=("data", "axes fraction"), xytext=(2, -2),
                    textcoords="offset points", va="top", fontsize="small", color="dimgrey")
    if off:
        ax.text(0.01, 0.01, f"not drawn where infinite, NaN or over 1e{LOG_RANGE[1]:.0f}: {', '.join(off)}",
                transform=ax.transAxes, fontsize="small", va="bottom", color="firebrick")
    ax.set_yscale("log")
    limits = loss_limits(curves)
    if limits:
        ax.set_ylim(*limits)
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))  # steps are whole: no "2.5" under a 5-step run
    if len(steps) == 1 and config is not None:   # a live run's first point: the run's whole length, not 0.95..1.05
        ax.set_xlim(0.5, max(config.steps, 2) + 0.5)
    ax.set_xlabel("step")
    ax.set_ylabel("loss (weighted)")
    legend_beside(ax)
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


def explorer_png(content, style, current, history, config, title="", dpi=96) -> bytes:
    """explorer_figure as PNG bytes (dpi 96: 691x710 px, text 13 px high, as the panel shows it)."""
    return png_bytes(explorer_figure(content, style, current, history, config, title), dpi)


def _picture(ax, img, name: str, side: int) -> None:
    ax.axis("off")
    ax.set_title(name)
    if img is None:
        ax.text(0.5, 0.5, "appears here", ha="center", va="center", transform=ax.transAxes)
        return
    pil = to_pil(img)
    pil.thumbnail((side, side))  # no larger than shown: smaller draws faster
    ax.imshow(pil)


def explorer_figure(content, style, current, history, config, title="") -> Figure:
    """The current result large (about 390 px wide in the panel, to judge its strokes), the
    content and style small beside it, the loss curves under them.

    content, style, current: (1, 3, H, W) in [0, 1] (current may be None); history: rows of
    transfer.run. A fresh Figure each time: no shared state between threads.
    """
    # 7.2 in at 96 dpi is the panel's 691 px width: its text is read at 1:1. Fixed margins
    # (constrained layout would double the draw time); the loss axes leave the right for the legend.
    fig = Figure(figsize=(7.2, 7.4))   # tall enough for a square result 390 px high under the title
    top = dict(top=0.895, bottom=0.345)
    _picture(fig.add_subplot(fig.add_gridspec(left=0.01, right=0.58, **top)[0, 0]), current, "result", 512)
    small = fig.add_gridspec(nrows=2, left=0.62, right=0.99, hspace=0.2, **top)
    _picture(fig.add_subplot(small[0, 0]), content, "content", 256)
    _picture(fig.add_subplot(small[1, 0]), style, "style", 256)
    ax = fig.add_subplot(fig.add_gridspec(left=0.11, right=0.79, top=0.25, bottom=0.06)[0, 0])
    if history:
        draw_losses(ax, history, config)
    else:
        ax.text(0.5, 0.5, "loss curves appear here after Run", ha="center", va="center", transform=ax.transAxes)
        ax.set_xticks([]), ax.set_yticks([])
    if title:
        fig.suptitle(title)
    return fig


def save_gif(snapshots: dict, path, frame_ms: int = 400) -> None:
    """Animate the snapshots in step order, all resized to the last one's size; last frame held longer."""
    steps = sorted(snapshots)
    final = snapshots[steps[-1]]
    hw = tuple(final.shape[-2:])
    frames = [to_pil(resize_to(snapshots[s], hw) if tuple(snapshots[s].shape[-2:]) != hw else snapshots[s])
              for s in steps]
    durations = [frame_ms] * (len(frames) - 1) + [frame_ms * 4]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations, loop=0)


def image_grid(images: dict, columns: int = 4, width: float = 12.0, title: str | None = None) -> Figure:
    """{title: (1, 3, H, W) image} as a grid of titled panels, all shown at the first one's size."""
    names = list(images)
    cols = min(columns, len(names))
    rows = -(-len(names) // cols)
    fig = Figure(figsize=(width, width / cols * rows + 0.4 * rows), layout="constrained")
    axes = fig.subplots(rows, cols, squeeze=False).ravel()
    hw = tuple(images[names[0]].shape[-2:])
    for ax in axes:
        ax.axis("off")
    for ax, name in zip(axes, names):
        img = images[name]
        ax.imshow(to_pil(img if tuple(img.shape[-2:]) == hw else resize_to(img, hw)))
        ax.set_title(name)
    if title:
        fig.suptitle(title)
    return fig


def loss_overlay(histories: dict, width: float = 13.0) -> Figure:
    """{label: history} overlaid: total loss (each run's own weights), raw content and raw style loss.

    The raw terms are comparable across presets (same images, same backbone); the totals are not.
    """
    fig = Figure(figsize=(width, 3.6), layout="constrained")
    axes = fig.subplots(1, 3)
    for key, ax, title in zip(("total", "content", "style"), axes,
                              ("total loss (own weights)", "content loss (unweighted)", "style loss (unweighted)")):
        for label, history in histories.items():
            ax.plot([r["step"] for r in history], [max(float(r[key]), 1e-12 if key != "content" else 0.0) for r in history], label=label)
        # content starts at 0 (the image starts as the photo): linear; the others span decades: log
        ax.set(yscale="linear" if key == "content" else "log", xlabel="step", title=title)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize="small")
    return fig
