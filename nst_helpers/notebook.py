"""What the notebooks share: their settings (with the NST_SMOKE switch), the seed's tables as
text, showing figures and tables, a run with a live loss plot, and grids for comparing runs.

    s = settings(content="images/content.jpg", style="images/style.jpg", preset="baseline")
    result, folder = run_live(s, "baseline", load_backbone(s.backbone))

Paths are resolved against the project root (the folder with pyproject.toml), so a notebook
works whether its kernel starts in notebooks/ (Jupyter, nbval) or in the root (papermill).
"""
import os
from dataclasses import dataclass
from pathlib import Path

from IPython.display import Image, Markdown, display
from matplotlib.figure import Figure

from . import config as cfgmod
from . import budget, transfer
from .config import PRESET_DESCRIPTIONS, PRESET_TABLE, SEED_STYLE_LAYERS
from .backbones.efficientnet import STYLE_LAYER_MAP
from .experiments import EXPERIMENTS, save_result
from .images import resize_to, to_pil
from .live import EarlySnapshots, LiveLossPlot, figure_png

SMOKE = {"size": 64, "steps": 15}   # NST_SMOKE=1: a tiny image and a few steps, for CI
PREVIEW = 'recipe = "fast"'          # a notebook's way to a quick look (budget's hints name it)
RECIPES = ("fast", "seed")

# What each VGG19 layer of the presets responds to (Gatys et al. 2016, Fig. 1 and 2).
LAYER_NOTES = {
    "conv1_1": "colours and the finest edges (1 px)",
    "conv2_1": "small strokes and textures",
    "conv3_1": "texture motifs a few strokes wide",
    "conv4_1": "larger patterns and parts of objects",
    "conv5_1": "the largest, most abstract arrangements",
    "conv4_2": "object layout (the content layer)",
}


def project_root(start=None) -> Path:
    """The nearest folder at or above `start` (default: cwd) holding pyproject.toml and nst_helpers/."""
    here = Path(start or os.getcwd()).resolve()
    for folder in (here, *here.parents):
        if (folder / "pyproject.toml").is_file() and (folder / "nst_helpers").is_dir():
            return folder
    return here


def smoke_mode() -> bool:
    """True when the environment variable NST_SMOKE is set to 1/true/yes."""
    return os.environ.get("NST_SMOKE", "").strip().lower() in ("1", "true", "yes")


@dataclass
class Settings:
    """A notebook's resolved parameters. content/style/outputs are absolute paths."""

    content: Path
    style: Path
    preset: str
    recipe: str          # "fast": the preset's weights with the fast L-BFGS recipe; "seed": unchanged
    steps: int | None    # None: the recipe's own
    size: int | None     # None: the recipe's own
    backbone: str
    outputs: Path
    smoke: bool

    def config(self, name: str | None = None) -> cfgmod.StyleConfig:
        """The StyleConfig a run of preset `name` (default: self.preset) uses under these settings."""
        over = {k: v for k, v in (("steps", self.steps), ("size", self.size)) if v is not None}
        base = cfgmod.preset(name or self.preset, backbone=self.backbone)
        cfg = cfgmod.with_fast_recipe(base, **over) if self.recipe == "fast" else base.replace(**over)
        if cfg.snapshot_every * 2 > cfg.steps:   # keep about five snapshots on short runs
            cfg = cfg.replace(snapshot_every=max(1, cfg.steps // 5))
        return cfg

    def labels(self) -> dict:
        """The image paths as recorded in a run folder (relative to the project root when inside it)."""
        root = project_root()
        rel = {k: p.relative_to(root) if p.is_relative_to(root) else p for k, p in
               (("content_path", self.content), ("style_path", self.style))}
        return {k: str(v) for k, v in rel.items()}

    def describe(self) -> str:
        cfg = self.config()
        mode = "SMOKE MODE (NST_SMOKE=1): tiny image, few steps, for CI only\n" if self.smoke else ""
        how = ("fast recipe: the preset's weights, L-BFGS" if self.recipe == "fast"
               else "seed recipe: Adam lr 0.003, unchanged")
        return (f"{mode}preset {cfg.name}, {how}: {cfg.steps} steps at {cfg.size} px, "
                f"snapshot every {cfg.snapshot_every}, backbone {self.backbone}\n"
                f"images {self.labels()['content_path']} + {self.labels()['style_path']}; runs go to {self.outputs}")


def settings(content="images/content.jpg", style="images/style.jpg", preset="baseline", recipe="fast",
             steps=None, size=None, backbone="auto", outputs="outputs") -> Settings:
    """A notebook's parameters, checked and resolved; NST_SMOKE=1 shrinks size and steps and
    sends runs to <outputs>/smoke so they never mix with real ones."""
    if recipe not in RECIPES:
        raise ValueError(f"recipe must be one of {RECIPES}, got {recipe!r}")
    root = project_root()

    def resolve(p):
        p = Path(p).expanduser()
        return p.resolve() if p.is_absolute() or p.exists() else (root / p).resolve()

    s = Settings(resolve(content), resolve(style), preset, recipe, steps, size, backbone, resolve(outputs), smoke_mode())
    if s.smoke:
        s.size, s.steps, s.outputs = SMOKE["size"], SMOKE["steps"], s.outputs / "smoke"
    s.config()   # validates preset, steps, size and backbone now, with a clear message
    return s


def _w(v: float) -> str:
    """A weight as the seed writes it: 1e6, 5e5, 0.54."""
    return f"{v:.0e}".replace("e+0", "e") if v >= 1000 else f"{v:g}"


def preset_table(names=EXPERIMENTS) -> str:
    """The seed's experiment matrix (weights and expectation) as a fixed-width text table."""
    head = f"{'preset':9}{'content':>8}{'style':>8}" + "".join(f"{n:>8}" for n in SEED_STYLE_LAYERS) + "  seed's expectation"
    lines = [head]
    for name in names:
        cw, sw, *lw = PRESET_TABLE[name]
        expect = PRESET_DESCRIPTIONS[name].split(": ")[-1]
        lines.append(f"{name:9}{_w(cw):>8}{_w(sw):>8}" + "".join(f"{w:>8g}" for w in lw) + f"  {expect}")
    return "\n".join(lines)


def layer_table() -> str:
    """The presets' VGG19 layers, what each responds to, and the EfficientNet-Lite0 layer standing in."""
    rows = [f"{'VGG19':9}{'role':9}{'responds to':42}efficientnet_lite0"]
    for name in (*SEED_STYLE_LAYERS, "conv4_2"):
        role = "content" if name == "conv4_2" else "style"
        rows.append(f"{name:9}{role:9}{LAYER_NOTES[name]:42}{STYLE_LAYER_MAP[name]}")
    return "\n".join(rows)


def balance_markdown(rows: list) -> str:
    """objective.layer_balance rows as a markdown table: each layer's share of the style term
    under the seed's normalisation and under the size-independent one."""
    lines = ["| layer | backbone layer | C·H·W | share of the style term, seed's loss | "
             "share, size-independent loss |", "|---|---|---|---|---|"]
    lines += [f"| `{r['layer']}` | `{r['own']}` | {r['chw']:,} | {r['seed_share']:.1%} | "
              f"{r['size_independent_share']:.1%} |" for r in rows]
    return "\n".join(lines)


def weight_changes(name: str) -> str:
    """How preset `name` differs from the baseline, one line per changed weight."""
    base, new = PRESET_TABLE["baseline"], PRESET_TABLE[name]
    labels = ("content weight", "style weight", *SEED_STYLE_LAYERS)
    return "\n".join(f"{lab:15}{_w(b):>5} -> {_w(n):<5}(x{n / b:.2g})" for lab, b, n in zip(labels, base, new) if b != n)


def show(fig: Figure, dpi: int = 80) -> None:
    """Display a matplotlib Figure as a PNG (a bare Figure has no image repr in a kernel)."""
    display(figure_png(fig, dpi))


def show_gif(path) -> None:
    display(Image(filename=str(path)))


def show_markdown(text: str) -> None:
    display(Markdown(text))


def run_live(s: Settings, name: str, backbone, redraws: int = 20):
    """Run preset `name` under settings `s` with a progress bar and a live loss plot, save its
    run folder, and return (TransferResult, folder)."""
    cfg = s.config(name)
    plot = LiveLossPlot(cfg, every=max(5, cfg.steps // redraws))
    clock = budget.DurationEstimate(cfg, preview=PREVIEW)   # "[nst] about 8 min ..." if over a minute
    early = EarlySnapshots([k for k in (1, 2, 4, 8, 16) if k < cfg.snapshot_every])  # the style emerging
    result = transfer.run(s.content, s.style, cfg, callbacks=[plot, clock, early], callback_every=1, backbone=backbone)
    result.snapshots = {**early.images, **result.snapshots}  # kept in the run folder and its GIF too
    plot.finish(result.history)
    if note := budget.early_end_note(result.config, len(result.history), preview=PREVIEW):
        print(note)
    return result, save_result(result, s)


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
