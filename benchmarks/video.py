"""Video without flicker: the warping error (Lai et al. 2018) of each clip stylised frame by frame and
with the temporal loss (Ruder et al. 2016), and the seconds a frame takes (the first, a picture
run, against the later ones, a quarter of its work from the warped frame), on vtest.avi (Debian's
opencv-doc package: its first 60 frames) and on the generated clip (synthetic.py).

    .venv/bin/python benchmarks/video.py [--size 384] [--frames 60] [--backbone efficientnet_lite0]
    .venv/bin/python benchmarks/video.py --size 64 --frames 3 --steps 12     # does it work: seconds

Style strength: the quality benchmark's style distance (runs/judge.py, judged by Lite2) of the
temporal frames against the frame-by-frame ones, each a single picture's run (target: within 0.05).

Each clip is one video.stylise(..., compare=True) run (both ways in one folder, under
outputs/benchmarks/video/); the figures are printed as a table. At full size (384 px, 60 frames,
the fast recipe on Lite0) it takes a while: the frame-by-frame run pays a picture run a frame.
"""
import argparse
import time
from pathlib import Path

from nst_helpers import preset  # first: torch's threads then wait passively (core/threads.py)

from nst_helpers.backbones import load_backbone  # noqa: E402
from nst_helpers.core.images import load_image  # noqa: E402
from nst_helpers.runs import judge  # noqa: E402
from nst_helpers.video import clips, folder as vf  # noqa: E402
from nst_helpers.notebook.video import VTEST  # noqa: E402
from nst_helpers.video import stylise, synthetic  # noqa: E402


STYLE = "images/style.jpg"


def style_strength(folder: Path, clip, cfg, judge_net) -> dict:
    """Mean style distance of the later frames of each pass (1 = the photo's, 0 = the painting's)."""
    style, got = load_image(STYLE, max_size=cfg.size), {vf.MAIN: [], vf.PLAIN: []}
    for t, frame in enumerate(clips.read_frames(clip, cfg.size)):
        if not vf.frame_png(folder, vf.MAIN, t).is_file():
            break
        for sub in got if t > 0 else ():
            got[sub].append(judge.style_distance(load_image(vf.frame_png(folder, sub, t)), frame, style, judge_net))
    return {f"style_{k}": sum(v) / max(1, len(v)) for k, v in got.items()}


def measure(name: str, clip, frames: int, cfg, nets: tuple, weight: float, out: Path, later_steps=None) -> dict:
    """One clip both ways: warping errors, seconds a frame and style distances, as a row."""
    net, judge_net = nets
    t0 = time.perf_counter()
    result = stylise.stylise(clip, STYLE, cfg, temporal_weight=weight, max_frames=frames, compare=True,
                             out=out, backbone=net, progress=False, later_steps=later_steps)
    rows = result.rows
    mean = lambda key: sum(r[key] for r in rows[1:]) / max(1, len(rows) - 1)  # noqa: E731
    return {"clip": name, "frames": result.frames, "plain": result.plain_warping_error,
            "temporal": result.warping_error, "first_s": rows[0]["seconds"], "later_s": mean("seconds"),
            "plain_s": mean("plain_seconds"), "later_steps": mean("steps"), "wall_s": time.perf_counter() - t0,
            "folder": result.folder, **style_strength(result.folder, clip, cfg, judge_net)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--steps", type=int, default=None, help="the picture run's steps (default: the fast recipe's)")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--temporal-weight", type=float, default=stylise.TEMPORAL_WEIGHT)
    ap.add_argument("--out", default="outputs/benchmarks")
    ap.add_argument("--clips", nargs="+", default=["generated", "vtest.avi"], choices=["generated", "vtest.avi"])
    ap.add_argument("--later-steps", type=int, default=None, help="a later frame's steps (default: stylise.later_config's)")
    args = ap.parse_args()
    over = {"steps": args.steps} if args.steps else {}
    cfg = preset("fast", size=args.size, backbone=args.backbone, **over)
    nets = load_backbone(args.backbone, verbose=False), load_backbone(judge.judge_backbone_name(args.backbone), verbose=False)
    out = Path(args.out)
    made = synthetic.make_clip(out / "video" / f"generated-{args.frames}x{args.size}.mp4",
                               frames=args.frames, size=args.size)
    inputs = [("generated", made)] + ([("vtest.avi", VTEST)] if VTEST.is_file() else [])
    inputs = [(name, clip) for name, clip in inputs if name in args.clips]
    if not VTEST.is_file():
        print(f"[video] no {VTEST}: `make data` installs it (Debian's opencv-doc); the generated clip only")
    print(f"[video] {args.backbone}, fast recipe at {args.size} px ({cfg.steps} steps a picture run, "
          f"{stylise.later_config(cfg, args.later_steps).steps} a later frame), temporal weight "
          f"{args.temporal_weight:g}; load {open('/proc/loadavg').read().split()[0]}")
    print("| clip | frames | warping error, frame by frame | with the temporal loss | ratio | first frame s "
          "| later frame s | later / first | frame by frame s | style, frame by frame | style, temporal |")
    print("|---|---|---|---|---|---|---|---|---|---|---|")
    for name, clip in inputs:
        r = measure(name, clip, args.frames, cfg, nets, args.temporal_weight, out, args.later_steps)
        print(f"| {r['clip']} | {r['frames']} | {r['plain']:.3g} | {r['temporal']:.3g} | "
              f"{r['plain'] / max(r['temporal'], 1e-12):.0f}x | {r['first_s']:.2f} | {r['later_s']:.2f} | "
              f"{r['later_s'] / r['first_s']:.2f} | {r['plain_s']:.2f} | {r['style_plain']:.3f} | "
              f"{r['style_frames']:.3f} |", flush=True)
        print(f"[video] {name}: {r['wall_s']:.0f} s in all; {r['folder']}/")


if __name__ == "__main__":
    main()
