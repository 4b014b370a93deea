"""Video without flicker: the warping error (Lai et al. 2018) of each clip stylised frame by frame and
with the temporal loss (Ruder et al. 2016), and the seconds a frame takes (the first, a picture
run, against the later ones, a third of the steps from the warped frame), on vtest.avi (Debian's
opencv-doc package: its first 60 frames) and on the generated clip (synthetic.py).

    .venv/bin/python benchmarks/video.py [--size 384] [--frames 60] [--backbone efficientnet_lite0]
    .venv/bin/python benchmarks/video.py --size 64 --frames 3 --steps 12     # does it work: seconds

Each clip is one video.stylise(..., compare=True) run (both ways in one folder, under
outputs/benchmarks/video/); the figures are printed as a table. At full size (384 px, 60 frames,
the fast recipe on Lite0) it takes a while: the frame-by-frame run pays a picture run a frame.
"""
import argparse
import time
from pathlib import Path

from nst_helpers import preset  # first: torch's threads then wait passively (core/threads.py)

from nst_helpers.backbones import load_backbone  # noqa: E402
from nst_helpers.notebook.video import VTEST  # noqa: E402
from nst_helpers.video import stylise, synthetic  # noqa: E402


def measure(name: str, clip, frames: int, cfg, net, weight: float, out: Path) -> dict:
    """One clip both ways: warping errors and seconds a frame, as a row."""
    t0 = time.perf_counter()
    result = stylise.stylise(clip, "images/style.jpg", cfg, temporal_weight=weight, max_frames=frames,
                             compare=True, out=out, backbone=net, progress=False)
    rows = result.rows
    mean = lambda key: sum(r[key] for r in rows[1:]) / max(1, len(rows) - 1)  # noqa: E731
    return {"clip": name, "frames": result.frames, "plain": result.plain_warping_error,
            "temporal": result.warping_error, "first_s": rows[0]["seconds"], "later_s": mean("seconds"),
            "plain_s": mean("plain_seconds"), "later_steps": mean("steps"), "wall_s": time.perf_counter() - t0,
            "folder": result.folder}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=384)
    ap.add_argument("--frames", type=int, default=60)
    ap.add_argument("--steps", type=int, default=None, help="the picture run's steps (default: the fast recipe's)")
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--temporal-weight", type=float, default=stylise.TEMPORAL_WEIGHT)
    ap.add_argument("--out", default="outputs/benchmarks")
    args = ap.parse_args()
    over = {"steps": args.steps} if args.steps else {}
    cfg = preset("fast", size=args.size, backbone=args.backbone, **over)
    net = load_backbone(args.backbone, verbose=False)
    out = Path(args.out)
    made = synthetic.make_clip(out / "video" / f"generated-{args.frames}x{args.size}.mp4",
                               frames=args.frames, size=args.size)
    clips = [("generated", made)] + ([("vtest.avi", VTEST)] if VTEST.is_file() else [])
    if not VTEST.is_file():
        print(f"[video] no {VTEST}: sudo apt-get install opencv-doc for it; the generated clip only")
    print(f"[video] {args.backbone}, fast recipe at {args.size} px ({cfg.steps} steps a picture run, "
          f"{stylise.later_config(cfg).steps} a later frame), temporal weight {args.temporal_weight:g}")
    print("| clip | frames | warping error, frame by frame | with the temporal loss | ratio | first frame s "
          "| later frame s | frame by frame s | later steps |")
    print("|---|---|---|---|---|---|---|---|---|")
    for name, clip in clips:
        r = measure(name, clip, args.frames, cfg, net, args.temporal_weight, out)
        print(f"| {r['clip']} | {r['frames']} | {r['plain']:.3g} | {r['temporal']:.3g} | "
              f"{r['plain'] / max(r['temporal'], 1e-12):.0f}x | {r['first_s']:.2f} | {r['later_s']:.2f} | "
              f"{r['plain_s']:.2f} | {r['later_steps']:.1f} |", flush=True)
        print(f"[video] {name}: {r['wall_s']:.0f} s in all; {r['folder']}/")


if __name__ == "__main__":
    main()
