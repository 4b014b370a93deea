"""The explorer's controls and the config they describe: built, filled from a preset, read back
into a StyleConfig, and a typed value outside a slider's range clamped with a note that says so.

    controls = make_controls(files, backbone="auto")   # {name: widget}
    fill(controls, preset("exp2"))                     # the preset's values into the widgets
    cfg = read(controls, "exp2")                       # the StyleConfig they describe
    watch_entries(entries, on_clamp)                   # on_clamp(name, Clamp | None)

The sliders only edit these values; nothing here runs anything.
"""
from dataclasses import dataclass

import ipywidgets as W
from PIL import Image

from ...backbones import BACKBONES
from ...core import plan
from ...core.config import ADAPTIVE_WEIGHTS, INITS, OPTIMIZERS, PRESERVE_COLOUR, SEED_STYLE_LAYERS, preset
from .controls import CHOOSER, PICKER, LogSlider, slider

# the sliders' labels (a style layer's is its name) and the unit of a number that has one
LABELS = {"content_weight": "content weight", "style_weight": "style weight", "lr": "learning rate",
          "steps": "steps", "size": "size", "stroke_size": "stroke size"}
CHOICES = {"preserve_colour": ("colour", PRESERVE_COLOUR), "init": ("start", INITS),
           "adaptive_weights": ("adaptive", ADAPTIVE_WEIGHTS), "pooling": ("pooling", ("max", "avg")),
           "tile_size": ("tiles (px)", (0, 256, 512, 1024))}   # 0: one piece; core/tiles.py, VGG19
# (the controls' dropdowns: label, options)
UNITS = {"size": "px"}


def description(name: str) -> str:
    """A slider's label: 'style weight', 'size (px)'."""
    unit = UNITS.get(name)
    return LABELS.get(name, name) + (f" ({unit})" if unit else "")


def make_controls(files: list, backbone: str = "auto") -> dict:
    """The widgets that make up a config, by name (the style layers by their layer names); the
    content and style choosers start on content.jpg and style.jpg when images_dir has them."""
    pictures = [f for f in files if not f.lower().startswith("mask")]   # masks are offered as masks only
    pick = lambda want: want if want in pictures else (pictures[0] if pictures else None)  # noqa: E731
    log = dict(content_weight=(-2, 2), style_weight=(2, 9), lr=(-4, 1))  # exponents of ten
    named = dict(
        **{n: slider(LogSlider, min=lo, max=hi, step=0.05, description=description(n))
           for n, (lo, hi) in log.items()},
        steps=slider(W.IntSlider, min=1, max=10000, description=description("steps")),
        size=slider(W.IntSlider, min=32, max=1024, step=32, description=description("size")),
        backbone=W.Dropdown(options=BACKBONES, value=backbone, description="backbone", **PICKER),
        optimizer=W.Dropdown(options=OPTIMIZERS, description="optimiser", **PICKER),
        stroke_size=slider(W.FloatSlider, min=0.25, max=4, step=0.05, description=description("stroke_size")),
        **{n: W.Dropdown(options=opts, description=label, **PICKER) for n, (label, opts) in CHOICES.items()},
        content=W.Dropdown(options=pictures, value=pick("content.jpg"), description="content", **CHOOSER),
        style=W.Dropdown(options=pictures, value=pick("style.jpg"), description="style", **CHOOSER),
        # spatial control (core/masks.py): the images_dir files named mask*, white where the style goes
        mask=W.Dropdown(options=[("whole picture", "")] + [(f, f) for f in files if f.lower().startswith("mask")],
                        value="", description="style on", **CHOOSER),
    )
    layers = {n: slider(W.FloatSlider, min=0, max=2, step=0.01, description=n) for n in SEED_STYLE_LAYERS}
    return {**named, **layers}


def fill(controls: dict, cfg) -> None:
    """cfg's values into the controls; the backbone and the images stay as chosen."""
    controls["content_weight"].value, controls["style_weight"].value = cfg.content_weight, cfg.style_weight
    for n in SEED_STYLE_LAYERS:
        controls[n].value = cfg.style_layers.get(n, 0.0)
    controls["lr"].value, controls["optimizer"].value = cfg.lr, cfg.optimizer
    controls["steps"].value, controls["size"].value = cfg.steps, cfg.size
    controls["stroke_size"].value = cfg.stroke_size
    for n in CHOICES:
        controls[n].value = getattr(cfg, n)


def weights(controls: dict) -> dict:
    """The content/style weights and per-layer weights the sliders hold."""
    return {"content_weight": controls["content_weight"].value, "style_weight": controls["style_weight"].value,
            "style_layers": {n: controls[n].value for n in SEED_STYLE_LAYERS}}


def read(controls: dict, preset_name: str):
    """The StyleConfig the controls describe: the preset with the controls' values (a ValueError
    names a field that is not valid). A run shorter than its preset's snapshot interval keeps
    a few snapshots: preset() applies plan.snapshot_every, the one snapshot rule."""
    c = controls
    return preset(preset_name, **weights(c), lr=c["lr"].value, steps=c["steps"].value, size=c["size"].value,
                  backbone=c["backbone"].value, optimizer=c["optimizer"].value, stroke_size=c["stroke_size"].value,
                  **{n: c[n].value for n in CHOICES})


def content_hw(source, size: int) -> tuple[int, int]:
    """(h, w) that the content image `source` (a path or a PIL image) has at longest side
    `size`, as images.load_image makes it; a path is read for its header only."""
    if isinstance(source, Image.Image):
        w, h = source.size
    else:
        with Image.open(source) as img:
            w, h = img.size
    return plan.level_shape((h, w), size, max(h, w))


@dataclass(frozen=True)
class Clamp:
    """A typed value of control `name` outside its slider's range, and the bound it was set to."""
    name: str
    typed: float
    value: float

    @property
    def above(self) -> bool:
        return self.typed > self.value

    def words(self) -> str:
        """'size 5000 px is above the slider's 1024 px: set to 1024'."""
        unit = f" {UNITS[self.name]}" if self.name in UNITS else ""
        side = "above" if self.above else "below"
        return (f"{LABELS.get(self.name, self.name)} {self.typed:g}{unit} is {side} the slider's "
                f"{self.value:g}{unit}: set to {self.value:g}")


def watch_entries(entries: dict, on_clamp) -> None:
    """Clamp a typed value outside its entry's range to the nearer bound, and tell
    on_clamp(name, Clamp) that it did; a value inside the range calls on_clamp(name, None)
    (whatever it had said about that entry no longer holds). entries: by control name."""
    for name, entry in entries.items():
        def changed(change, name=name, entry=entry):
            typed = change["new"]
            value = min(max(typed, entry.min), entry.max)
            if value == typed:
                on_clamp(name, None)
                return
            entry.value = value  # the slider follows through the link; this observer hears it in range
            on_clamp(name, Clamp(name, typed, value))

        entry.observe(changed, "value")
