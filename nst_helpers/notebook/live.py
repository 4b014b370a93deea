"""What a notebook shows: figures and markdown, and a run with a live loss plot.

    result, folder = run_live(s, "baseline", load_backbone(s.backbone))   # s: settings.settings(...)

    plot = LiveLossPlot(config, every=10)       # or by hand
    result = run(content, style, config, callbacks=[plot], callback_every=1)
    plot.finish(result.history)

The figure is shown once through an IPython display handle and then replaced with
handle.update(...), so the cell keeps a single output (no flicker, no pile of plots).
It is sent as a PNG because a bare matplotlib Figure (no pyplot) has no image repr of its
own in a kernel.
"""
from IPython.display import Image, Markdown, display
from matplotlib.figure import Figure

from ..core import transfer
from ..runs import duration
from ..runs.plots import draw_losses, png_bytes
from .compare import save_result

PREVIEW = 'recipe = "fast"'          # a notebook's way to a quick look (duration's hints name it)


def figure_png(fig: Figure, dpi: int = 80) -> Image:
    """A Figure rendered to an IPython PNG Image (displays the same in any kernel/backend)."""
    return Image(data=png_bytes(fig, dpi), format="png")


class LiveLossPlot:
    """Callback f(step, row, image) for transfer.run: keeps the rows it is given and redraws
    total, content and style loss (weighted, log scale) every `every` steps.

    Pass it with callback_every=1 so it sees every row; `every` only sets how often it redraws.
    """

    def __init__(self, config, every: int = 10, title: str | None = None, size=(7, 3.6)):
        self.config, self.every, self.title = config, max(1, int(every)), title
        self.history: list[dict] = []
        self.fig = Figure(figsize=size, layout="constrained")
        self.handle = None

    def __call__(self, step: int, row: dict, image=None) -> None:
        if not self.history or self.history[-1]["step"] != step:  # the final call may repeat a step
            self.history.append(dict(row))
        if step % self.every == 0:
            self.redraw()

    def redraw(self) -> None:
        self.fig.clear()
        ax = self.fig.subplots()
        if self.history:
            draw_losses(ax, self.history, self.config)
        last = self.history[-1] if self.history else {"step": 0, "total": float("nan")}
        ax.set_title(self.title or f"{self.config.name}: step {last['step']} of {self.config.steps}, "
                                   f"total loss {last['total']:.4g}")
        png = figure_png(self.fig)
        if self.handle is None:
            self.handle = display(png, display_id=True)
        else:
            self.handle.update(png)

    def finish(self, history: list | None = None) -> None:
        """Redraw once more with the complete history (e.g. result.history)."""
        if history is not None:
            self.history = [dict(r) for r in history]
        self.redraw()


class EarlySnapshots:
    """Callback f(step, row, image) that keeps the image at a few early, log-spaced steps
    (1, 2, 4, 8, 16 by default), where a run changes most: snapshots every 25 or 500 steps would
    show the style already there. Pass it with callback_every=1; `images` is {step: image}."""

    def __init__(self, steps=(1, 2, 4, 8, 16)):
        self.steps, self.images = set(steps), {}

    def __call__(self, step: int, row: dict, image=None) -> None:
        if step in self.steps and image is not None:
            self.images[step] = image


def show(fig: Figure, dpi: int = 80) -> None:
    """Display a matplotlib Figure as a PNG (a bare Figure has no image repr in a kernel)."""
    display(figure_png(fig, dpi))


def show_gif(path) -> None:
    display(Image(filename=str(path)))


def show_markdown(text: str) -> None:
    display(Markdown(text))


def run_live(s, name: str, backbone, redraws: int = 20):
    """Run preset `name` under settings `s` with a progress bar and a live loss plot, save its
    run folder, and return (TransferResult, folder)."""
    cfg = s.config(name)
    plot = LiveLossPlot(cfg, every=max(5, cfg.steps // redraws))
    clock = duration.DurationEstimate(cfg, preview=PREVIEW)   # "[nst] about 8 min ..." if over a minute
    early = EarlySnapshots([k for k in (1, 2, 4, 8, 16) if k < cfg.snapshot_every])  # the style emerging
    result = transfer.run(s.content, s.style, cfg, callbacks=[plot, clock, early], callback_every=1, backbone=backbone)
    result.snapshots = {**early.images, **result.snapshots}  # kept in the run folder and its GIF too
    plot.finish(result.history)
    if note := duration.early_end_note(result.config, len(result.history), preview=PREVIEW):
        print(note)
    return result, save_result(result, s)
