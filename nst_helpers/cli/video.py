"""python -m nst_helpers video --content CLIP --style PAINTING [...]: a clip stylised without flicker
(video/stylise.py), into outputs/video/<timestamp>-<id>/.

As for a picture, every bad input is one line `error: <what>; <fix>` and exit code 2, found before
a backbone loads: a file that is not a video, a clip without frames, a codec this ffmpeg cannot
decode (named), a start past the clip's end, a size too big for the memory. Ctrl-C, SIGTERM or
SIGHUP ends the video after the current optimiser step (its frame is done again on resume), and
prints the command that goes on: `python -m nst_helpers video --resume RUN_DIR`.
"""
import shlex
import signal

from ..backbones.layers import BACKBONES
from ..core.config import PRESETS, ConfigError
from ..core.files import path_problem
from ..runs.duration import in_words
from .args import UsageError, _count, _Help, _Parser, _weight, check_device, check_out
from .signals import Signals, refuse, restore, say
from .streams import forgiving_stdout

SIZE = 256   # px: a frame of the fast recipe in seconds on Lite0 (a picture's 512 px costs 4x a frame)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not value >= 0 or value == float("inf"):
        raise UsageError(f"--start {text!r} is not a time in seconds; give one like 0 or 2.5")
    return value


def build_parser():
    p = _Parser(prog="python -m nst_helpers video", formatter_class=_Help,
                description="Style transfer on a video without flicker (Ruder et al. 2016): each frame starts from "
                            "the previous one warped by the optical flow, held to it by a temporal loss.")
    p.add_argument("--content", metavar="CLIP", help="the video: mp4, avi, mov, webm or gif (required, unless --resume)")
    p.add_argument("--style", metavar="PATH", help="the painting (required, unless --resume)")
    p.add_argument("--preset", default="fast", choices=PRESETS, help="the picture run's settings for each frame")
    p.add_argument("--size", type=_count, default=SIZE, metavar="PX", help="longest side of the frames")
    p.add_argument("--temporal-weight", type=_weight, default=None, metavar="W",
                   help="weight of the temporal loss; 0: every frame on its own, as pictures (default: "
                        "video.stylise.TEMPORAL_WEIGHT)")
    p.add_argument("--compare", action="store_true",
                   help="also stylise every frame on its own: a side-by-side video and the flicker of both")
    p.add_argument("--max-frames", type=_count, default=None, metavar="N", help="stylise at most N frames")
    p.add_argument("--start", type=_seconds, default=0.0, metavar="SECONDS", help="where in the clip to begin")
    p.add_argument("--fps", type=_weight, default=None, metavar="F",
                   help="frame rate of the videos written (default: the clip's)")
    p.add_argument("--backbone", default=None, choices=BACKBONES, help="the network (default: auto = VGG19)")
    p.add_argument("--out", default="outputs", metavar="DIR", help="root folder for run folders")
    p.add_argument("--device", default=None, help="cpu, cuda, cuda:N or mps (default: the best available)")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    p.add_argument("--resume", default=None, metavar="RUN_DIR", help="go on with an interrupted video, in its folder")
    return p


def _settings(args):
    """The checks a mistake never costs a run for: files, the clip's header, config, memory, --out."""
    from ..core.config import preset
    from ..core.memory import check_memory
    from ..video import clips
    for flag in ("content", "style"):
        if getattr(args, flag) is None:
            raise UsageError(f"--{flag} is required; see python -m nst_helpers video --help")
    if problem := path_problem(args.style):
        raise UsageError(problem)
    info = clips.probe(args.content)   # not a video, no frames, a codec it cannot decode: ClipError
    if info.seconds is not None and args.start >= info.seconds:
        raise UsageError(f"--start {args.start:g} is past the end of {args.content} ({info.seconds:g} s long); "
                         f"give a start below {info.seconds:g}")
    if args.fps is not None and (problem := clips.fps_problem(args.fps)):
        raise UsageError(f"--fps {problem}, or leave --fps out for the clip's")
    over = {"size": args.size} if args.backbone is None else {"size": args.size, "backbone": args.backbone}
    cfg = preset(args.preset, **over)
    device = check_device(args.device) if args.device is not None else None
    import numpy as np
    check_memory(cfg, device, cfg.backbone, np.empty(info.size[::-1], np.uint8))   # a frame's aspect
    return cfg, info, device, check_out(args.out)


def _go(args, sig: Signals):
    from ..video import stylise
    if args.resume is not None:
        given = [f for f, v in (("--content", args.content), ("--style", args.style), ("--max-frames", args.max_frames),
                                ("--temporal-weight", args.temporal_weight), ("--fps", args.fps)) if v is not None]
        if given or args.compare:
            raise UsageError(f"--resume goes on with the settings its video started with; leave out "
                             f"{' '.join(given + ['--compare'] * args.compare)}")
        check_device(args.device) if args.device is not None else None
        from ..video.folder import read_settings
        read_settings(args.resume)   # not a video's folder, or a finished one: one line
        sig.folder = args.resume
        sig.running = True
        return stylise.resume(args.resume, device=args.device, progress=not args.no_progress, stop_event=sig)
    cfg, info, device, out = _settings(args)
    weight = stylise.TEMPORAL_WEIGHT if args.temporal_weight is None else args.temporal_weight
    folder, settings = stylise.new_video(args.content, args.style, cfg, weight, args.max_frames, args.start,
                                         args.compare, out)
    if args.fps is not None:
        from ..video.folder import write_settings
        settings["fps"] = args.fps
        write_settings(folder, settings)
    sig.folder, sig.running = folder, True
    return stylise.go(folder, settings, device=device, progress=not args.no_progress, stop_event=sig)


def main(argv: list) -> int:
    with forgiving_stdout():
        sig = Signals()
        before = sig.install()
        try:
            result = _go(build_parser().parse_args(argv), sig)
        except KeyboardInterrupt:
            where = f"; the finished frames are in {sig.folder}/" if sig.folder else ""
            say(f"[nst] interrupted ({signal.Signals(sig.signum or signal.SIGINT).name}){where}")
            return sig.code()
        except ConfigError as err:
            message = f"--{err.field.replace('_', '-')}: {err.why}" if err.field in ("size", "backbone") else str(err)
        except (UsageError, ValueError, OSError) as err:   # ClipError, ImageError, NotEnoughMemory: ValueErrors
            message = str(err)
        except RuntimeError as err:   # backbones.vgg.WeightsUnavailable (imported late: --help loads no torch)
            if type(err).__name__ != "WeightsUnavailable":
                raise
            message = str(err)
        else:
            return _report(result, sig)
        finally:
            restore(before)
        return refuse(message)


def _report(result, sig: Signals) -> int:
    if result.stop_reason in ("interrupted", "stopped"):
        say(f"[nst] interrupted ({signal.Signals(sig.signum or signal.SIGINT).name}): {result.frames} frame(s) "
            f"finished in {result.folder}/; finish it with: python -m nst_helpers video --resume "
            f"{shlex.quote(str(result.folder))}")
        return sig.code()
    rows = result.rows
    later = [r["seconds"] for r in rows[1:]]
    pace = f", later frames {in_words(sum(later) / len(later))} each" if later else ""
    print(f"[nst] {result.frames} frames: the first in {in_words(rows[0]['seconds'])}{pace}")
    if result.warping_error is not None:
        plain = "" if result.plain_warping_error is None else f" (frame by frame: {result.plain_warping_error:.3g})"
        print(f"[nst] warping error {result.warping_error:.3g}{plain}")
    print(f"[nst] results in {result.folder}/ (frames/, stylised.mp4, flicker.png"
          f"{', side_by_side.mp4' if (result.folder / 'side_by_side.mp4').is_file() else ''})")
    return 0
