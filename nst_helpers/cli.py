"""Command line: python -m nst_helpers --content PATH --style PATH [--preset baseline] ...

Every bad input ends in one line on stderr, `error: <what was wrong>; <how to fix it>`, and
exit code 2, never a traceback. The cheap checks (arguments, device, settings, the output
folder) run before any image or backbone is loaded, so a mistake never costs a run.

A run keeps checkpoints in its folder (created when the run starts). Ctrl-C or SIGTERM ends it
after the current step (a second one at once), leaves the work there and prints the command
that finishes it, `--resume RUN_DIR`; the exit code is then 128 + the signal (130, 143).
"""
import argparse
import math
import signal
import sys
import tempfile
from pathlib import Path

from . import budget
from .config import BACKBONES, PRESET_DESCRIPTIONS, PRESETS, StyleConfig, preset
from .interrupts import Signals

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
            raise UsageError(f"{flag} {value!r} is not a {flag.lstrip('-')}; "
                             f"choose one of {', '.join(map(str, action.choices))}")
        super()._check_value(action, value)


class _Help(argparse.ArgumentDefaultsHelpFormatter):
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


def build_parser() -> argparse.ArgumentParser:
    d = StyleConfig()
    p = _Parser(
        prog="python -m nst_helpers",
        description="Gatys-style neural style transfer. Writes a run folder with the result, "
                    "snapshots, loss curves, a side-by-side comparison and a progress GIF.",
        formatter_class=_Help,
        epilog="Presets: " + "; ".join(f"{k}: {v}" for k, v in PRESET_DESCRIPTIONS.items()))
    p.add_argument("--content", metavar="PATH", help="content photo (required, unless --resume)")
    p.add_argument("--style", metavar="PATH", help="style image (required, unless --resume)")
    p.add_argument("--preset", default="baseline", choices=PRESETS, help="settings to start from")
    p.add_argument("--steps", type=_count, default=None, metavar="N", help="optimiser steps (default: the preset's)")
    p.add_argument("--size", type=_count, default=None, metavar="PX",
                   help=f"longest side in pixels (default: the preset's; {d.size} for the seed presets)")
    p.add_argument("--content-weight", type=_weight, default=None, metavar="W", help="content weight (default: the preset's)")
    p.add_argument("--style-weight", type=_weight, default=None, metavar="W", help="style weight (default: the preset's)")
    p.add_argument("--backbone", default="auto", choices=BACKBONES,
                   help="auto = VGG19 if its weights can be had, else the offline EfficientNet-Lite0")
    p.add_argument("--out", default="outputs", metavar="DIR", help="root folder for run folders")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--snapshot-every", type=_count, default=None, metavar="N",
                   help="a snapshot, and a checkpoint to resume from, every N steps "
                        "(default: the preset's, at most steps/5)")
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
        raise UsageError(f"--out {root}: cannot write there ({err.strerror or err}); "
                         "choose a folder you can write to, e.g. --out outputs") from None
    return path


def _load_backbone(cfg):
    """load_backbone, with missing or corrupt VGG19 weights as one clear line (vgg.CorruptWeights)."""
    from .backbones import load_backbone
    from .backbones.vgg import WeightsUnavailable
    try:
        return load_backbone(cfg.backbone, pooling=cfg.pooling)
    except WeightsUnavailable as err:
        raise UsageError(str(err)) from None


def _settings(args) -> StyleConfig:
    if args.content_weight == 0 and args.style_weight == 0:
        raise UsageError("--content-weight 0 and --style-weight 0 leave nothing to optimise; "
                         "give at least one of them a positive weight")
    given = {"steps": args.steps, "size": args.size, "content_weight": args.content_weight,
             "style_weight": args.style_weight, "snapshot_every": args.snapshot_every}
    cfg = preset(args.preset, backbone=args.backbone, seed=args.seed, **{k: v for k, v in given.items() if v is not None})
    if args.snapshot_every is None and cfg.snapshot_every > cfg.steps:
        return cfg.replace(snapshot_every=max(1, cfg.steps // 5))
    return cfg


# flags that --resume refuses: a resumed run goes on with the settings it started with
RESUME_CONFLICTS = ("content", "style", "preset", "steps", "size", "content_weight", "style_weight", "backbone",
                    "out", "seed", "snapshot_every")


def _resume(args, sig: Signals):
    parser = build_parser()
    given = [f"--{k.replace('_', '-')}" for k in RESUME_CONFLICTS if getattr(args, k) != parser.get_default(k)]
    if given:
        raise UsageError(f"--resume goes on with the settings its run started with; leave out {' '.join(given)}")
    device = check_device(args.device) if args.device is not None else None
    from . import checkpoint  # heavy imports after the cheap checks
    saved = checkpoint.load(args.resume)
    sig.folder = Path(args.resume)
    cfg = StyleConfig.from_dict(saved["config"])
    net = _load_backbone(cfg.replace(backbone=saved["backbone"]))  # the backbone 'auto' chose then
    sig.running = True
    try:
        result = checkpoint.resume(args.resume, backbone=net, device=device or check_device(saved["device"]),
                                   progress=not args.no_progress, stop_event=sig, saved=saved)
    finally:
        sig.running = False
    return result, sig.folder


def _run(argv, sig: Signals):
    args = build_parser().parse_args(argv)
    if args.resume is not None:
        return _resume(args, sig)
    missing = [f"--{k}" for k in ("content", "style") if getattr(args, k) is None]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join(missing)}; see python -m nst_helpers --help")
    device = check_device(args.device) if args.device is not None else None
    cfg = _settings(args)
    budget.check_memory(cfg, device, cfg.backbone, args.content)  # a run too big for memory: refused now
    out = check_out(args.out)
    from . import images, runs, transfer  # heavy imports after the cheap checks
    content = images.load_image(args.content, max_size=cfg.size)
    style = images.load_image(args.style, max_size=cfg.size)
    net = _load_backbone(cfg)
    sig.folder, sig.running = runs.new_run_dir(cfg.name, out), True  # made now: the run keeps its checkpoints there
    try:
        result = transfer.run(content, style, cfg, backbone=net, device=device, progress=not args.no_progress,
                              stop_event=sig, checkpoint_dir=sig.folder,
                              callbacks=[budget.DurationEstimate(cfg)], callback_every=1)  # every step: estimate soon
    except BaseException:
        if not any(sig.folder.iterdir()):
            sig.folder.rmdir()  # refused before its first checkpoint: leave no empty folder
        raise
    finally:
        sig.running = False
    if result.stop_reason in ("interrupted", "stopped"):
        return result, sig.folder
    return result, runs.save_run(result, folder=sig.folder)


def main(argv=None) -> int:
    sig = Signals()
    before = sig.install()
    try:
        result, folder = _run(argv, sig)
    except KeyboardInterrupt:  # a signal before or after the run (while saving), or a second one
        return sig.cut_short()
    except (UsageError, ValueError, OSError) as err:  # ImageError and config errors are ValueErrors
        message = str(err)
        field = message.split("'")[1] if message.startswith("config field '") else None
        if field in ("steps", "size", "content_weight", "style_weight", "seed"):  # name the flag the user typed
            message = f"--{field.replace('_', '-')}: {message.removeprefix(f'config field {field!r}: ')}"
    except KeyError as err:  # str(KeyError) adds quotes; its argument is the message
        message = str(err.args[0] if err.args else err)
    else:
        if result.stop_reason in ("interrupted", "stopped"):
            return sig.interrupted(result.message)
        if result.stop_reason == "diverged":
            print(f"[nst] {result.message}")
        last = result.history[-1] if result.history else {}
        print(f"[nst] {len(result.history)} steps in {result.seconds:.1f} s on {result.device} "
              f"({result.stop_reason}); final loss {last.get('total', float('nan')):.4g}")
        print(f"[nst] results in {folder}/ (final.png, comparison.png, loss.png, progress.gif)")
        if note := budget.early_end_note(result.config, len(result.history)):
            print(note)
        return 0
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
    print("error: " + " ".join(message.split()), file=sys.stderr)  # one line, whatever the message
    return 2
