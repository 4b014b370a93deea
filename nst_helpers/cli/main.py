"""Command line: python -m nst_helpers --content PATH --style PATH [--preset fast] ...

Every bad input ends in one line on stderr, `error: <what was wrong>; <how to fix it>`, and
exit code 2, never a traceback. The cheap checks (arguments, the image paths, settings, then the
device, memory and the output folder) run before any image or backbone is loaded, so a mistake
never costs a run; --help, a bad flag, a missing file or bad settings answer before torch loads.

A run keeps checkpoints in its folder (created when the run starts). Ctrl-C, SIGTERM or SIGHUP
ends it after the current step (a second one at once), leaves the work there and prints the
command that finishes it, `--resume RUN_DIR`; the exit code is then 128 + the signal (130, 143, 129).
"""
import signal
import sys
from pathlib import Path

from ..core.config import ConfigError, StyleConfig
from ..core.files import path_problem
from ..runs import duration
from .args import UsageError, build_parser, check_device, check_out, given_to_resume
from .settings import FIELD_FLAGS, SettingsError, settings
from .signals import Signals, say
from .streams import forgiving_stdout

NEEDED = ("torch", "torchvision", "numpy", "PIL", "tqdm", "matplotlib")  # what a run imports beyond the standard library


def _load_backbone(cfg):
    """load_backbone, with missing or corrupt VGG19 weights as one clear line (vgg.CorruptWeights)."""
    from ..backbones import load_backbone
    from ..backbones.vgg import WeightsUnavailable
    try:
        return load_backbone(cfg.backbone, pooling=cfg.pooling)
    except WeightsUnavailable as err:
        raise UsageError(str(err)) from None


def _resume(args, argv, sig: Signals):
    if given := given_to_resume(argv):   # typed, whether or not it equals a default
        raise UsageError(f"--resume goes on with the settings its run started with; leave out {' '.join(given)}")
    device = check_device(args.device) if args.device is not None else None
    from ..runs import checkpoint, lock  # torch: after the cheap checks
    if problem := checkpoint.folder_problem(args.resume):
        raise UsageError(problem)
    with lock.hold(args.resume):   # before reading the checkpoint: one writer, or a clear refusal
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
        return _resume(args, argv, sig)
    cfg, from_file = settings(args)
    paths = {k: getattr(args, k) or from_file.get(k) for k in ("content", "style", "mask")}
    missing = [f"--{k}" for k, v in paths.items() if v is None and k != "mask"]
    if missing:
        raise UsageError(f"the following arguments are required: {', '.join(missing)}; see python -m nst_helpers --help")
    styles = paths["style"] if isinstance(paths["style"], list) else [paths["style"]]
    masks = paths["mask"]
    for path in (paths["content"], *styles, *(masks or [])):   # a missing file is named before torch loads
        if problem := path_problem(path):
            raise UsageError(problem)
    if masks is not None and len(masks) != len(styles):
        raise UsageError(f"--mask gives {len(masks)} mask(s) for {len(styles)} style image(s); give one --mask per "
                         "--style image (white where that style goes)")
    if cfg.style_blend is not None and len(cfg.style_blend) != len(styles):
        raise UsageError(f"--style-blend gives {len(cfg.style_blend)} weight(s) for {len(styles)} style image(s); "
                         "give one weight per --style image")
    device = check_device(args.device) if args.device is not None else None
    from ..core import images, memory, transfer  # torch: after the cheap checks
    from ..core.masks import check_masks, load_masks
    from ..runs import checkpoint, folders, lock
    memory.check_memory(cfg, device, cfg.backbone, paths["content"])  # a run too big for memory: refused now
    if cfg.tile_size:
        print(f"[nst] memory: {memory.in_words(cfg, None, paths['content'], device)}")
    out = check_out(args.out)
    content = images.load_image(paths["content"], max_size=cfg.size)
    style = [images.load_image(p, max_size=cfg.size) for p in styles]
    if masks is not None:   # read, resized and checked against the photo before the backbone loads
        check_masks(cfg)
        masks = load_masks(masks, content, len(styles))
    net = _load_backbone(cfg)
    sig.folder, sig.running = folders.new_run_dir(cfg.name, out), True  # made now: the run keeps its checkpoints there
    with lock.hold(sig.folder):   # held to the end of the save: a --resume meanwhile is refused
        try:
            result = transfer.run(content, style, cfg, backbone=net, device=device, progress=not args.no_progress,
                                  stop_event=sig, checkpoints=checkpoint.Checkpoints(sig.folder), masks=masks,
                                  callbacks=[duration.DurationEstimate(cfg)], callback_every=1)  # estimate soon
        except BaseException:
            _drop_if_empty(sig.folder)
            raise
        finally:
            sig.running = False
        if result.stop_reason in ("interrupted", "stopped"):
            return result, sig.folder
        # the images' paths too: --config <folder>/config.json repeats the run (cli/settings.py)
        read = {"content": str(Path(paths["content"]).resolve()), "style": [str(Path(p).resolve()) for p in styles]}
        read["style"] = read["style"][0] if len(styles) == 1 else read["style"]
        if paths["mask"] is not None:
            read["mask"] = [str(Path(p).resolve()) for p in paths["mask"]]
        return result, folders.save_run(result, folder=sig.folder, extra=read)


def _drop_if_empty(folder: Path) -> None:
    """A run refused before its first checkpoint leaves no folder (its lock file aside)."""
    from ..runs.lock import LOCK
    try:
        if all(p.name == LOCK for p in folder.iterdir()):
            (folder / LOCK).unlink(missing_ok=True)
            folder.rmdir()
    except OSError:
        pass  # the folder is gone, or not ours to tidy: the first error is the one to report


def main(argv=None) -> int:
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["video"]:   # a subcommand: cli/video.py
        from .video import main as video
        return video(argv[1:])
    if argv[:1] in (["train"], ["stylize"]):   # real-time style transfer: cli/realtime.py
        from .realtime import main as realtime
        return realtime(argv[0], argv[1:])
    if argv[:1] == ["grid"]:    # a subcommand: cli/grid.py
        from .grid import main as grid
        return grid(argv[1:])
    with forgiving_stdout():   # a closed or full stdout never fails a run (streams.py)
        return _main(argv)


def _main(argv: list) -> int:
    sig = Signals()
    before = sig.install()
    try:
        result, folder = _run(argv, sig)
    except KeyboardInterrupt:  # a signal before or after the run (while saving), or a second one
        return sig.cut_short()
    except ConfigError as err:   # a field with a flag is named by the flag the user typed
        flag = "mask" if err.field == "masks" else err.field if err.field in FIELD_FLAGS else None
        message = f"--{flag.replace('_', '-')}: {err.why}" if flag else str(err)
    except (UsageError, SettingsError, ValueError, OSError) as err:  # ImageError, NotEnoughMemory, ResumeError are ValueErrors
        message = str(err)
    except KeyError as err:  # str(KeyError) adds quotes; its argument is the message
        message = str(err.args[0] if err.args else err)
    except ModuleNotFoundError as err:  # e.g. the system's python, not the project's .venv
        if err.name is None or err.name.split(".")[0] not in NEEDED:
            raise
        message = (f"{err.name.split('.')[0]} is not installed for {sys.executable}; run `make demo` once to set up "
                   ".venv, then use .venv/bin/python -m nst_helpers (or `source .venv/bin/activate` first)")
    else:
        if result.stop_reason in ("interrupted", "stopped"):
            return sig.interrupted(result.message)
        if result.stop_reason == "diverged":
            print(f"[nst] {result.message}")
        last = result.history[-1] if result.history else {}
        print(f"[nst] {len(result.history)} steps in {result.seconds:.1f} s on {result.device} "
              f"({result.stop_reason}); final loss {last.get('total', float('nan')):.4g}")
        print(f"[nst] results in {folder}/ (final.png, comparison.png, loss.png, progress.gif)")
        if note := duration.early_end_note(result.config, len(result.history)):
            print(note)
        return 0
    finally:
        for s, handler in before.items():
            signal.signal(s, handler)
    say("error: " + " ".join(message.split()))  # one line, whatever the message
    return 2
