"""One run's settings (a dataclass) and the named presets (the seed's experiment matrix).

The learning rate keeps the seed's meaning: the seed ran Adam on the ImageNet-normalised
image tensor, so `lr` is in units of ImageNet standard deviations; `transfer` optimises
that same normalised tensor, and Adam's 0.003 moves pixels exactly as much as in the seed.
"""
import dataclasses
import json
import math
from dataclasses import dataclass, field

from ..backbones.layers import BACKBONES, known_layer_names  # torch-free: a config loads no torch
from . import plan, recipes

SEED_SNAPSHOT_EVERY = 500
SEED_STYLE_LAYERS = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1")
OPTIMIZERS = ("adam", "lbfgs")
SCHEDULES = ("constant", "cosine", "step", "plateau")
INITS = ("content", "noise", "gray", "style", "content_in_style_colours")
PRESERVE_COLOUR = ("off", "luminance", "match", "histogram")   # preserve.MODES (config imports no torch)
ADAPTIVE_WEIGHTS = ("off", "initial")   # objective.StyleObjective.adapt_weights
GRAM_NORMS = ("seed", "size_independent")   # losses.GRAM_NORMS (config imports no torch)
MAX_STEPS = 1_000_000   # a budget past this is a typo, not a plan (and the history would fill memory)
MAX_SEED = 2**63 - 1    # torch's generators take a 64-bit seed: a larger one fails at the run's start

# The seed's experiment matrix, value for value.
#  preset      content  style    conv1_1 conv2_1 conv3_1 conv4_1 conv5_1
PRESET_TABLE = {
    "baseline": (1.0, 1e6, 1.0, 0.8, 0.5, 0.3, 0.1),   # moderate style transfer
    "exp1":     (1.0, 5e5, 1.5, 1.2, 0.5, 0.3, 0.1),   # increased early-layer weights
    "exp2":     (0.5, 2e6, 0.54, 0.54, 0.54, 0.54, 0.54),  # balanced layer weights
    "exp3":     (2.0, 5e5, 1.0, 0.8, 0.25, 0.1, 0.05),  # reduced later-layer weights
}
PRESET_DESCRIPTIONS = {
    "baseline": "Baseline: moderate style transfer",
    "exp1": "Exp 1, increased early-layer weights: more prominent style artifacts",
    "exp2": "Exp 2, balanced layer weights: subtle content preservation",
    "exp3": "Exp 3, reduced later-layer weights: more content details",
    "fast": "Fast: the painting recipe, refined coarse to fine",   # --help adds its steps per backbone (cli/args.py)
}


@dataclass
class StyleConfig:
    """Everything one style-transfer run needs; the defaults are the seed's baseline."""

    name: str = "baseline"
    content_weight: float = 1.0
    style_weight: float = 1e6
    style_layers: dict = field(default_factory=lambda: dict(zip(SEED_STYLE_LAYERS, PRESET_TABLE["baseline"][2:])))
    content_layer: str = "conv4_2"
    gram_norm: str = "seed"          # "seed": the seed's unnormalised Gram loss; "size_independent"
                                     # (see losses.py: what each does to the balance of the layers)
    tv_weight: float = 0.0           # total-variation smoothing (the seed had none)
    optimizer: str = "adam"          # "adam" (the seed's) or "lbfgs" (Gatys et al.'s)
    lr: float = 0.003                # ImageNet-normalised units, see module docstring
    lr_schedule: str = "constant"    # constant | cosine | step | plateau
    steps: int = 5000                # optimiser steps in total (one L-BFGS iteration = one step)
    snapshot_every: int = SEED_SNAPSHOT_EVERY  # a picture every 500 steps, as the seed kept
    size: int = 512                  # longest side of the result, in pixels
    scales: int = 1                  # >1: coarse-to-fine pyramid, sizes x1/sqrt(2) apart
    scale_steps: list | None = None  # steps per scale, coarse to fine (None: an equal split)
    init: str = "content"            # the target starts as the content image (seed), noise, gray or style
    preserve_colour: str = "off"     # keep the photo's colours: luminance | match | histogram (preserve.py)
    stroke_size: float = 1.0         # the style image's size relative to the content's: 2 = strokes twice as big
    adaptive_weights: str = "off"    # "initial": each layer's weight per its term at the photo (objective.py)
    style_blend: list | None = None  # several style images: one weight each (None: equal); their Gram targets blend
    mixed_precision: bool = False    # bf16/fp16 autocast for the backbone only
    tile_size: int = 0               # 0: off; N: levels larger than N px run in tiles of N px (tiles.py), VGG19
    early_stop_window: int = 0       # 0 = off; else stop when the loss has not improved ...
    early_stop_tol: float = 1e-3     # ... by this relative amount over that many steps
    backbone: str = "auto"           # auto | vgg19 | efficientnet_lite0
    pooling: str = "max"             # VGG19 only: "max" or "avg"
    seed: int = 0

    def __post_init__(self):
        if not isinstance(self.style_layers, dict):  # e.g. a JSON list or number
            _bad("style_layers", f"must be a mapping {{layer: weight}} like {{'conv1_1': 1.0}}, got {self.style_layers!r}")
        for layer, w in self.style_layers.items():
            if isinstance(w, bool) or not isinstance(w, (int, float)):
                _bad("style_layers", f"weight of {layer} must be a number, got {w!r}")
        self.style_layers = {str(k): float(v) for k, v in self.style_layers.items()}
        validate(self)

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), indent=2, **kw)

    @classmethod
    def from_dict(cls, data: dict) -> "StyleConfig":
        if not isinstance(data, dict):
            raise ValueError(f"a config must be a JSON object {{\"field\": value, ...}}, got a {type(data).__name__}; "
                             "e.g. {\"steps\": 300, \"style_weight\": 1e6}")
        known = {f.name for f in dataclasses.fields(cls)}
        extra = set(data) - known
        if extra:
            raise ValueError(f"unknown config field(s) {sorted(extra)}; known fields: {sorted(known)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> "StyleConfig":
        try:
            data = json.loads(text)
        except json.JSONDecodeError as err:
            raise ValueError(f"the config is not valid JSON: {err.msg} at line {err.lineno} column {err.colno}; "
                             "fix that spot (keys in double quotes, no trailing commas)") from None
        return cls.from_dict(data)

    def replace(self, **changes) -> "StyleConfig":
        """A validated copy with some fields changed. A new step budget keeps the pyramid's
        coarse/fine proportions unless scale_steps is given too, and its snapshot interval
        follows (plan.snapshot_every) unless snapshot_every is given too."""
        if "steps" in changes and "scale_steps" not in changes and self.scale_steps:
            changes["scale_steps"] = plan.rescale(self.scale_steps, changes["steps"])
            changes.setdefault("scales", len(changes["scale_steps"]))
        if "steps" in changes and "snapshot_every" not in changes and _is_count(changes["steps"]):
            changes["snapshot_every"] = plan.snapshot_every(changes["steps"], self.snapshot_every)
        return dataclasses.replace(self, **changes)


class ConfigError(ValueError):
    """An invalid config value; `field` names the field (the command line names its flag from it)
    and `why` says what was wrong and the fix."""

    def __init__(self, field_name: str, why: str):
        self.field, self.why = field_name, why
        super().__init__(f"config field '{field_name}': {why}")


def _bad(field_name: str, why: str):
    raise ConfigError(field_name, why)


def folder_name_problem(name) -> str | None:
    """Why `name` (a run's, a grid's) cannot be the folder it becomes inside --out, or None: it must be
    one plain name, never a path out of --out ("..", "/x", "../x") or into its parent (".")."""
    fix = "use one plain name of letters, digits, '-', '_', '.', e.g. my-run"
    if not isinstance(name, str):
        return f"must be a name in quotes (it becomes a folder inside --out), got {name!r}; {fix}"
    if name.strip(".") == "" or any(c in name for c in "/\\\0") or len(name.encode("utf-8", "replace")) > 128:
        return f"{name!r} is not a plain folder name (it becomes a folder inside --out); {fix}"
    return None


def seed_problem(seed) -> str | None:
    """Why `seed` (a picture run's, a training's) cannot seed torch's generators, or None."""
    if isinstance(seed, bool) or not isinstance(seed, int) or not 0 <= seed <= MAX_SEED:
        return f"must be a whole number from 0 to 2**63 - 1, got {seed!r}; give one like 0 or 42"
    return None


def validate(cfg: StyleConfig) -> None:
    """Raise ValueError naming the field and the reason for the first invalid value."""
    for name, problem in (("name", folder_name_problem(cfg.name)), ("seed", seed_problem(cfg.seed))):
        if problem:
            _bad(name, problem)
    if not isinstance(cfg.mixed_precision, bool):   # "no" would be true
        _bad("mixed_precision", f"must be true or false, got {cfg.mixed_precision!r}")
    layers = known_layer_names()
    for name in ("content_weight", "style_weight", "tv_weight", "lr", "early_stop_tol", "stroke_size"):
        v = getattr(cfg, name)
        if not isinstance(v, (int, float)) or isinstance(v, bool) or math.isnan(v) or math.isinf(v):
            _bad(name, f"must be a finite number, got {v!r}")
        if v < 0:
            _bad(name, f"must not be negative, got {v}")
    if cfg.lr == 0:
        _bad("lr", "must be positive")
    if not 0 < cfg.stroke_size <= 8:
        _bad("stroke_size", f"must be above 0 and at most 8 (the style image's size relative to the photo's; 1 = "
                            f"the same size), got {cfg.stroke_size}")
    if cfg.content_weight == 0 and cfg.style_weight == 0:
        _bad("style_weight", "content_weight and style_weight are both 0, which leaves nothing to optimise; "
                             "give at least one of them a positive weight")
    if not cfg.style_layers:
        _bad("style_layers", "needs at least one layer, e.g. {'conv1_1': 1.0}")
    for layer, w in cfg.style_layers.items():
        if layer not in layers:
            _bad("style_layers", f"unknown layer {layer!r}; use VGG19 names like conv1_1..conv5_1")
        if math.isnan(w) or math.isinf(w) or w < 0:
            _bad("style_layers", f"weight of {layer} must be a finite number >= 0, got {w}")
    if cfg.content_layer not in layers:
        _bad("content_layer", f"unknown layer {cfg.content_layer!r}; e.g. conv4_2")
    for name, lo in (("steps", 1), ("snapshot_every", 1), ("size", 32), ("scales", 1), ("early_stop_window", 0),
                     ("tile_size", 0)):
        v = getattr(cfg, name)
        if not isinstance(v, int) or isinstance(v, bool) or v < lo:
            _bad(name, f"must be an integer >= {lo}, got {v!r}")
    if cfg.tile_size and (cfg.tile_size < 64 or cfg.tile_size % 16):
        _bad("tile_size", f"must be 0 (off) or a multiple of 16 from 64 up, e.g. 512; got {cfg.tile_size}")
    if cfg.steps > MAX_STEPS:
        _bad("steps", f"{cfg.steps} is more than {MAX_STEPS:,} steps (weeks of computing; the seed's presets run "
                      "5000); give fewer")
    for name, allowed in (("optimizer", OPTIMIZERS), ("gram_norm", GRAM_NORMS), ("lr_schedule", SCHEDULES), ("init", INITS),
                          ("preserve_colour", PRESERVE_COLOUR), ("adaptive_weights", ADAPTIVE_WEIGHTS),
                          ("backbone", BACKBONES), ("pooling", ("max", "avg"))):
        if getattr(cfg, name) not in allowed:
            _bad(name, f"must be one of {', '.join(allowed)}, got {getattr(cfg, name)!r}")
    if cfg.style_blend is not None:
        blend = cfg.style_blend
        if not isinstance(blend, list) or not blend or any(
                isinstance(w, bool) or not isinstance(w, (int, float)) or not math.isfinite(w) or w < 0 for w in blend):
            _bad("style_blend", f"must be a list of finite weights >= 0, one per style image, got {blend!r}")
        if sum(blend) <= 0:
            _bad("style_blend", f"weights {blend} add up to 0, which leaves no style; give at least one a positive weight")
    if cfg.scale_steps is not None:
        if len(cfg.scale_steps) != cfg.scales or any(not isinstance(s, int) or s < 1 for s in cfg.scale_steps):
            _bad("scale_steps", f"needs {cfg.scales} positive integers (one per scale), got {cfg.scale_steps!r}")
        if sum(cfg.scale_steps) != cfg.steps:
            _bad("scale_steps", f"must add up to steps={cfg.steps}, got {sum(cfg.scale_steps)}")


def preset(name: str, **overrides) -> StyleConfig:
    """A named preset (baseline, exp1, exp2, exp3, fast), with optional field overrides."""
    if name == "fast":
        backbone = overrides.get("backbone", "auto")
        backbone = backbone if isinstance(backbone, str) else "auto"   # a bad one is left for validate to name
        base = recipes.fast(overrides.get("size", 512), overrides.get("steps", recipes.fast_steps(backbone)), backbone)
    elif name in PRESET_TABLE:
        cw, sw, *lw = PRESET_TABLE[name]
        base = dict(name=name, content_weight=cw, style_weight=sw, style_layers=dict(zip(SEED_STYLE_LAYERS, lw)))
    else:
        raise ValueError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}")
    if base.get("scale_steps") and "steps" in overrides and "scale_steps" not in overrides:
        # keep the preset's coarse/fine proportions for a different step budget
        base["scale_steps"] = plan.rescale(base["scale_steps"], overrides["steps"])
        base["scales"] = len(base["scale_steps"])
    if "scales" in overrides and "scale_steps" not in overrides:
        base["scale_steps"] = None  # an explicit number of scales: an equal split
    if "steps" in overrides and "snapshot_every" not in overrides and _is_count(overrides["steps"]):
        base["snapshot_every"] = plan.snapshot_every(overrides["steps"], base.get("snapshot_every", SEED_SNAPSHOT_EVERY))
    base.update(overrides)
    return StyleConfig(**base)


def _is_count(v) -> bool:
    """An int >= 1 (a bad one is left for validate to name)."""
    return isinstance(v, int) and not isinstance(v, bool) and v >= 1


RECIPE_FIELDS = ("optimizer", "lr", "lr_schedule", "steps", "snapshot_every", "size", "scales",
                 "scale_steps", "mixed_precision", "early_stop_window", "early_stop_tol", "init")


def with_fast_recipe(cfg: StyleConfig, **overrides) -> StyleConfig:
    """`cfg`'s weights, layers and loss, optimised with the `fast` preset's recipe (L-BFGS on
    the pyramid, from the photo in the painting's colours).

    For seeing what a seed preset's weights do in seconds instead of 5000 Adam steps.
    """
    recipe = preset("fast", backbone=overrides.get("backbone", cfg.backbone),
                    **{k: v for k, v in overrides.items() if k in RECIPE_FIELDS})
    rest = {k: v for k, v in overrides.items() if k not in RECIPE_FIELDS}
    return cfg.replace(**{k: getattr(recipe, k) for k in RECIPE_FIELDS}, **rest)


PRESETS = (*PRESET_TABLE, "fast")
