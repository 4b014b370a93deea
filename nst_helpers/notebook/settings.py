"""A notebook's settings: its parameters resolved and checked, with the NST_SMOKE switch.

    s = settings(content="images/content.jpg", style="images/style.jpg", preset="baseline")
    cfg = s.config()          # the StyleConfig its run uses

Paths are resolved against the project root (the folder with pyproject.toml), so a notebook
works whether its kernel starts in notebooks/ (Jupyter, nbval) or in the root (papermill).
"""
import os
from dataclasses import dataclass
from pathlib import Path

from ..core import config as cfgmod

SMOKE = {"size": 64, "steps": 15}   # NST_SMOKE=1: a tiny image and a few steps, for CI
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
        return cfgmod.with_fast_recipe(base, **over) if self.recipe == "fast" else base.replace(**over)

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
