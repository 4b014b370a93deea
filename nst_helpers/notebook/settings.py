"""A notebook's settings: its parameters resolved and checked, with the NST_SMOKE switch.

    s = settings(content="images/content.jpg", style="images/style.jpg", preset="baseline")
    cfg = s.config()          # the StyleConfig its run uses

Paths are resolved against the project root (the folder with pyproject.toml), so a notebook
works whether its kernel starts in notebooks/ (Jupyter, nbval) or in the root (papermill).
"""
import dataclasses
import os
from dataclasses import dataclass
from pathlib import Path

from ..core import config as cfgmod
from ..core import plan

# NST_SMOKE=1, for CI: a small image and a few steps, on the pyramid the default climbs (two levels,
# the finest ones' proportions) so the tests exercise every level switch; in float32 so that the
# checked numbers (notebook/numbers.py) are the same on CPUs with and without native bf16
SMOKE = {"size": 96, "steps": 16, "scales": 2}
RECIPES = ("fast", "seed")


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
        # a short run keeps a few snapshots (plan.snapshot_every: preset and replace apply it)
        cfg = cfgmod.with_fast_recipe(base, **over) if self.recipe == "fast" else base.replace(**over)
        return smoke_config(cfg) if self.smoke else cfg

    def labels(self) -> dict:
        """The image paths as recorded in a run folder (relative to the project root when inside it)."""
        root = project_root()
        rel = {k: p.relative_to(root) if p.is_relative_to(root) else p for k, p in
               (("content_path", self.content), ("style_path", self.style))}
        return {k: str(v) for k, v in rel.items()}

    def describe(self) -> str:
        """The run in words: recipe, plan, images (and any resizing beyond their own size), where
        runs go, and how long a run takes here with this recipe and with the other."""
        cfg = self.config()
        mode = "SMOKE MODE (NST_SMOKE=1): tiny image, few steps, for CI only\n" if self.smoke else ""
        how = ("fast recipe: the preset's weights, L-BFGS" if self.recipe == "fast"
               else "seed recipe: Adam lr 0.003, unchanged")
        lines = [f"{mode}preset {cfg.name}, {how}: {plan.describe(plan.plan(cfg, self.content_hw()))}, "
                 f"snapshot every {cfg.snapshot_every}, backbone {self.backbone}",
                 f"images {self.labels()['content_path']} + {self.labels()['style_path']}; runs go to {self.outputs}",
                 *self.resize_notes(), self.duration_note()]
        return "\n".join(lines)

    def image_sizes(self) -> dict:
        """{"content": (w, h), "style": (w, h)} of the image files, from their headers (None if unreadable)."""
        from PIL import Image
        sizes = {}
        for key, path in (("content", self.content), ("style", self.style)):
            try:
                with Image.open(path) as img:
                    sizes[key] = img.size
            except (OSError, ValueError):  # a bad file gets its own clear error when it is loaded
                sizes[key] = None
        return sizes

    def content_hw(self) -> tuple | None:
        """The content image's (h, w) at the run's size, as the run will shape it (None if unreadable)."""
        size = self.image_sizes()["content"]
        return None if size is None else plan.level_shape(size[::-1], self.config().size, max(size))

    def resize_notes(self) -> list[str]:
        """A line for each image smaller than the run's size: load_image enlarges it (invents no detail)."""
        size, notes = self.config().size, []
        for key, wh in self.image_sizes().items():
            if wh is not None and max(wh) < size:
                name = getattr(self, key).name
                notes.append(f"{name} is {wh[0]}x{wh[1]} px: upscaled to {size} px on its longest side "
                             "(a blurrier start; a larger image gives the style more to work with)")
        return notes

    def duration_note(self) -> str:
        """How long a run takes here: runs.duration's estimate (the command line's and the explorer's),
        for this recipe and for the other one."""
        from ..backbones.registry import choose_backbone
        from ..core.devices import pick_device
        from ..runs import duration
        backbone, device = choose_backbone(self.backbone).name, str(pick_device())
        other = "seed" if self.recipe == "fast" else "fast"
        cost = {r: duration.estimate(dataclasses.replace(self, recipe=r).config(), backbone, device, self.content_hw())
                for r in (self.recipe, other)}
        words = {r: ("" if s < 1 else "about ") + duration.in_words(s) for r, s in cost.items()}
        return (f"time: {words[self.recipe]} a run here ({backbone} on {device}, runs/duration.py's "
                f"estimate); with recipe = \"{other}\": {words[other]}")


def smoke_config(cfg: cfgmod.StyleConfig) -> cfgmod.StyleConfig:
    """A smoke run of `cfg`: float32, and a pyramid recipe on SMOKE["scales"] levels (a smoke image
    is below the recipe's coarsest level, which would leave one), the steps in the recipe's
    proportions for its finest levels."""
    from ..core import recipes
    cfg = cfg.replace(mixed_precision=False)
    if cfg.scales == 1 and cfg.optimizer == "lbfgs" and cfg.init == "content_in_style_colours":   # the fast recipe
        budgets = recipes.FAST_RECIPES[recipes.fast_family(cfg.backbone)]["scale_steps"][-SMOKE["scales"]:]
        steps = plan.rescale(budgets, cfg.steps)
        cfg = cfg.replace(scales=len(steps), scale_steps=steps if len(steps) > 1 else None)
    return cfg


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
