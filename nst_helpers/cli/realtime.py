"""python -m nst_helpers train --style PAINTING [...] and python -m nst_helpers stylize --model
MODEL.pt PHOTO_OR_FOLDER...: real-time style transfer (feedforward/), its two subcommands.

    train     a transformation network for one painting, into outputs/train/<timestamp>-<id>/
              (checkpoints every --checkpoint-every steps; Ctrl-C keeps the work: --resume DIR)
    stylize   every photo given (files, or the images in a folder) through one model loaded once,
              into --out (default outputs/stylized/), with PyTorch or, --onnx, onnxruntime; a clip
              (mp4, avi, mov, webm, gif) frame by frame into --out/<name>.mp4, its flicker measured

As for a picture run, a bad input is one line `error: <what>; <fix>` and exit code 2, found before
a network loads: a style or photo that is not there, a data folder without images, a crop larger
than every photo, a file that is not a model.
"""
import shlex
import signal
import time
from pathlib import Path

from ..core.files import path_problem
from .args import UsageError, _count, _Help, _Parser, _weight, check_out
from .signals import Signals, refuse, restore, say
from .streams import forgiving_stdout


def train_parser():
    p = _Parser(prog="python -m nst_helpers train", formatter_class=_Help,
                description="Train a feed-forward network for one painting (Johnson et al. 2016): after it, a "
                            "picture takes one pass (python -m nst_helpers stylize).")
    p.add_argument("--style", metavar="PAINTING", help="the painting (required, unless --resume)")
    p.add_argument("--data", metavar="DIR", help="a folder of photos (default: scikit-image's and opencv-doc's)")
    p.add_argument("--steps", type=_count, default=300, help="Adam steps")
    p.add_argument("--size", type=_count, default=192, metavar="PX", help="side of the square training crops")
    p.add_argument("--batch", type=_count, default=2, help="crops a step")
    p.add_argument("--width", type=_count, default=16, metavar="W", help="the network's width (Johnson et al.: 32)")
    p.add_argument("--backbone", default="efficientnet_lite0", help="the loss network (vgg19_original: the paper's)")
    p.add_argument("--style-weight", type=_weight, default=1e6, metavar="W")
    p.add_argument("--content-weight", type=_weight, default=3.0, metavar="W")
    p.add_argument("--tv-weight", type=_weight, default=100.0, metavar="W")
    p.add_argument("--lr", type=_weight, default=1e-3)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--checkpoint-every", type=_count, default=100, metavar="N")
    p.add_argument("--preview-every", type=_count, default=100, metavar="N")
    p.add_argument("--out", default="outputs", metavar="DIR", help="root folder for run folders")
    p.add_argument("--resume", metavar="RUN_DIR", help="go on with an interrupted training, in its folder")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def stylize_parser():
    p = _Parser(prog="python -m nst_helpers stylize", formatter_class=_Help,
                description="Stylise photos with a trained network (python -m nst_helpers train).")
    p.add_argument("photos", nargs="+", metavar="PHOTO_OR_FOLDER", help="photos, folders of photos, or clips "
                   "(mp4, avi, mov, webm, gif: stylised frame by frame at their frame rate)")
    p.add_argument("--model", required=True, metavar="MODEL.pt", help="a model.pt that `train` wrote")
    p.add_argument("--size", type=_count, default=None, metavar="PX", help="longest side (default: each photo's own)")
    p.add_argument("--out", default="outputs/stylized", metavar="DIR", help="folder for the pictures")
    p.add_argument("--onnx", action="store_true", help="run through onnxruntime (pip install nst-helpers[realtime])")
    p.add_argument("--max-frames", type=_count, default=None, metavar="N", help="a clip's first N frames only")
    return p


def _train(args, sig: Signals):
    from ..backbones.layers import BACKBONES
    from ..feedforward import folder as ff_folder
    from ..feedforward.train import TrainConfig, train
    if args.resume is not None:
        ff_folder.path(args.resume)   # not an unfinished training's folder: one line
        sig.folder, sig.running = Path(args.resume), True
        return train(None, backbone=None, progress=not args.no_progress, stop_event=sig, resume=args.resume)
    if args.style is None:
        raise UsageError("--style is required; see python -m nst_helpers train --help")
    if problem := path_problem(args.style):
        raise UsageError(problem)
    if args.backbone not in BACKBONES or args.backbone == "auto":
        raise UsageError(f"--backbone {args.backbone!r} is not a loss network; choose one of "
                         f"{', '.join(b for b in BACKBONES if b != 'auto')}")
    data = None if args.data is None else str(Path(args.data).resolve())
    cfg = TrainConfig(style=str(Path(args.style).resolve()), data=data,
                      steps=args.steps, size=args.size, batch=args.batch, width=args.width, backbone=args.backbone,
                      style_weight=args.style_weight, content_weight=args.content_weight, tv_weight=args.tv_weight,
                      lr=args.lr, seed=args.seed, checkpoint_every=args.checkpoint_every,
                      preview_every=args.preview_every)
    from ..feedforward.data import load_photos
    load_photos(cfg.data, cfg.size)   # an empty folder, a crop too big: refused before a folder is made
    sig.running = True
    return train(cfg, out=check_out(args.out), progress=not args.no_progress, stop_event=sig)


def _photos(items: list) -> list[Path]:
    """The files to stylise: each item itself, or a folder's images (clips are named one by one)."""
    from ..core.images import IMAGE_SUFFIXES
    found = []
    for item in map(Path, items):
        if item.is_dir():
            inside = sorted(p for p in item.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
            if not inside:
                raise UsageError(f"{item} has no images ({', '.join(IMAGE_SUFFIXES)}); "
                                 "give photos or a folder of them")
            found += inside
        elif problem := path_problem(item):
            raise UsageError(problem)
        else:
            found.append(item)
    return found


def _written_as(photo: Path) -> str:
    """The name `photo` is written under in --out: a picture as .png, a clip as .mp4 (a GIF as .gif)."""
    from ..video.clips import CLIP_SUFFIXES
    suffix = photo.suffix.lower()
    return photo.stem + (".png" if suffix not in CLIP_SUFFIXES else ".gif" if suffix == ".gif" else ".mp4")


def _check_out(items: list, photos: list[Path], out: Path) -> None:
    """Refuse an --out that would overwrite: a file, a folder of the photos given, two photos on one name."""
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out} is a file; give a folder (it is made if missing), e.g. --out outputs/stylized")
    overwritten = [p for p in photos if (out / _written_as(p)).resolve() == p.resolve()]
    if out.resolve() in {Path(i).resolve() for i in items if Path(i).is_dir()} or overwritten:
        raise UsageError(f"--out {out} holds the photos given, which the pictures would overwrite; give another "
                         "folder, e.g. --out outputs/stylized")
    seen = {}
    for photo in photos:
        if (name := _written_as(photo)) in seen:
            raise UsageError(f"{seen[name]} and {photo} would both be written as {out / name}; rename one, or "
                             "stylise them in two runs with different --out folders")
        seen[name] = photo


def _stylize(args, sig: Signals):
    from ..core.images import load_image, save_image
    from ..feedforward import stylize as ff
    from ..video.clips import CLIP_SUFFIXES
    photos = _photos(args.photos)
    out = Path(args.out)
    _check_out(args.photos, photos, out)   # before the model loads: nothing is overwritten silently
    net = ff.load_model(args.model)
    run = net
    if args.onnx:
        if not ff.onnx_available():
            raise UsageError("--onnx needs onnx and onnxruntime; pip install nst-helpers[realtime] "
                             "(or leave out --onnx)")
        onnx_path = Path(args.model).with_suffix(".onnx")
        if not onnx_path.is_file() or onnx_path.stat().st_mtime < Path(args.model).stat().st_mtime:
            ff.export_onnx(net, onnx_path)
        run = ff.OnnxStylizer(onnx_path)
    out.mkdir(parents=True, exist_ok=True)
    t0, written = time.perf_counter(), []
    picture = (lambda x: ff.stylize(x, net)) if run is net else run   # noqa: E731
    for photo in photos:
        if photo.suffix.lower() in CLIP_SUFFIXES:
            written.append(_clip(photo, picture, out, args))
            continue
        x = load_image(photo, max_size=args.size)
        written.append(save_image(picture(x), out / _written_as(photo)))
    return written, time.perf_counter() - t0


def _clip(clip: Path, picture, out: Path, args) -> Path:
    """A clip through the network frame by frame (video/per_frame.py), its figures in a line."""
    from ..video.per_frame import map_clip
    r = map_clip(clip, picture, out / _written_as(clip), size=args.size, max_frames=args.max_frames)
    flicker = "one frame: no flicker to measure" if r["warping_error"] is None else \
        f"warping error {r['warping_error']:.3g} (the flicker: video/temporal.py)"
    print(f"[nst] {clip.name}: {r['frames']} frames, {r['seconds_per_frame']:.3f} s a frame; {flicker} -> {r['path']}")
    return r["path"]


def main(command: str, argv: list) -> int:
    with forgiving_stdout():
        sig = Signals()
        before = sig.install()
        try:
            if command == "train":
                return _report(_train(train_parser().parse_args(argv), sig), sig)
            written, seconds = _stylize(stylize_parser().parse_args(argv), sig)
            print(f"[nst] {len(written)} file(s) in {seconds:.2f} s into {written[0].parent}/")
            return 0
        except KeyboardInterrupt:
            say(f"[nst] interrupted ({signal.Signals(sig.signum or signal.SIGINT).name})")
            return sig.code()
        except (UsageError, ValueError, OSError) as err:   # DataError, ModelError, TrainFolderError, ImageError
            message = str(err)
        except RuntimeError as err:   # backbones.vgg.WeightsUnavailable (--backbone vgg19 with no weights here)
            if type(err).__name__ != "WeightsUnavailable":
                raise
            message = str(err)
        finally:
            restore(before)
        return refuse(message)


def _report(result, sig: Signals) -> int:
    if result.stop_reason != "completed":
        say(f"[nst] interrupted ({signal.Signals(sig.signum or signal.SIGINT).name}) at step {len(result.history)}; "
            f"go on with: python -m nst_helpers train --resume {shlex.quote(str(result.folder))}")
        return sig.code()
    from ..feedforward.folder import smoothed
    last = smoothed([r["total"] for r in result.history])[-1]   # one batch's loss is noisy
    print(f"[nst] trained {len(result.history)} steps in {result.seconds:.0f} s; final loss {last:.4g} "
          "(mean of the last 20 steps)")
    print(f"[nst] model in {result.folder / 'model.pt'} (previews/, loss.png, config.json beside it)")
    return 0
