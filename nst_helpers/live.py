"""A live loss plot for notebooks: one figure redrawn in place while `transfer.run` works.

    plot = LiveLossPlot(config, every=10)
    result = run(content, style, config, callbacks=[plot], callback_every=1)
    plot.finish(result.history)

The figure is shown once through an IPython display handle and then replaced with
handle.update(...), so the cell keeps a single output (no flicker, no pile of plots).
It is sent as a PNG because a bare matplotlib Figure (no pyplot) has no image repr of its
own in a kernel.
"""
from IPython.display import Image, display
from matplotlib.figure import Figure

from .plots import draw_losses, png_bytes


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
