"""Peak memory of a run against its size: the constants of nst_helpers/core/memory.py.

Each measurement is a fresh process (its own peak): import, build the backbone (VGG19 with
random weights: the same memory as ImageNet's), then reset the peak RSS (Linux clear_refs 5),
run a few steps of `transfer.run` on the bundled images, and read VmHWM. Reported per run:
the backbone's weights (RSS growth while building it) and the run's peak above the RSS before
it; per backbone and precision, a least-squares line run_MiB = a + b * Mpx over the sizes.

    .venv/bin/python benchmarks/memory.py                       # seed (Adam) runs, ~5 min on 2 cores
    .venv/bin/python benchmarks/memory.py --backbones efficientnet_lite0 --optimizer lbfgs --steps 25
    .venv/bin/python benchmarks/memory.py --one efficientnet_lite0 256 0 adam 3   # one run, JSON
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = str(ROOT / "images" / "content.jpg"), str(ROOT / "images" / "style.jpg")


def _status_mib(key: str) -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key)) / 1024


def one(backbone: str, size: int, mixed: bool, optimizer: str, steps: int) -> dict:
    """In this process: {weights_mib, run_mib, mpx} of one run (call it in a fresh process)."""
    sys.path.insert(0, str(ROOT))
    import torch
    from nst_helpers import preset, run
    from nst_helpers.backbones import load_backbone
    from nst_helpers.backbones.vgg import VGG19Features
    torch.manual_seed(0)
    rss0 = _status_mib("VmRSS:")
    net = VGG19Features() if backbone == "vgg19" else load_backbone(backbone, verbose=False)
    weights = _status_mib("VmRSS:") - rss0
    name = "fast" if optimizer == "lbfgs" else "baseline"   # lbfgs: the fast preset on one scale
    cfg = preset(name, size=size, steps=steps, snapshot_every=steps, mixed_precision=mixed)
    if optimizer == "lbfgs":
        cfg = cfg.replace(scales=1, scale_steps=None, early_stop_window=0)
    with open("/proc/self/clear_refs", "w") as f:
        f.write("5")   # VmHWM := VmRSS now
    before = _status_mib("VmRSS:")
    r = run(CONTENT, STYLE, cfg, backbone=net, progress=False)
    h, w = r.image.shape[-2:]
    return {"backbone": backbone, "size": size, "mixed": mixed, "optimizer": optimizer, "steps": len(r.history),
            "mpx": h * w / 1e6, "weights_mib": weights, "run_mib": _status_mib("VmHWM:") - before}


def measure(backbone: str, size: int, mixed: bool = False, optimizer: str = "adam", steps: int = 3) -> dict:
    """one() in a fresh process (2 threads, OpenMP threads sleeping while they wait)."""
    env = {**os.environ, "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "2"), "OMP_WAIT_POLICY": "PASSIVE"}
    p = subprocess.run([sys.executable, __file__, "--one", backbone, str(size), str(int(mixed)), optimizer, str(steps)],
                       capture_output=True, text=True, env=env, cwd=ROOT, check=True)
    return json.loads(p.stdout.strip().splitlines()[-1])


def fit(rows: list) -> tuple[float, float]:
    """Least-squares (a, b) of run_mib = a + b * mpx."""
    n = len(rows)
    mx, my = sum(r["mpx"] for r in rows) / n, sum(r["run_mib"] for r in rows) / n
    b = sum((r["mpx"] - mx) * (r["run_mib"] - my) for r in rows) / sum((r["mpx"] - mx) ** 2 for r in rows)
    return my - b * mx, b


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--one", nargs=5, metavar=("BACKBONE", "SIZE", "MIXED", "OPTIMIZER", "STEPS"))
    p.add_argument("--backbones", nargs="+", default=["efficientnet_lite0", "efficientnet_lite1",
                                                      "efficientnet_lite2", "vgg19"])
    p.add_argument("--sizes", nargs="+", type=int, default=[128, 256, 384, 512])
    p.add_argument("--optimizer", default="adam", choices=["adam", "lbfgs"])
    p.add_argument("--steps", type=int, default=3)
    args = p.parse_args(argv)
    if args.one:
        b, size, mixed, opt, steps = args.one
        print(json.dumps(one(b, int(size), bool(int(mixed)), opt, int(steps))))
        return
    print(f"{'backbone':20}{'mixed':>6}{'weights MiB':>12}" + "".join(f"{s:>7}px" for s in args.sizes)
          + f"{'a MiB':>8}{'b MiB/Mpx':>11}   ({args.optimizer}, {args.steps} steps, run MiB above the RSS before it)")
    for backbone in args.backbones:
        for mixed in (False, True):
            rows = [measure(backbone, s, mixed, args.optimizer, args.steps) for s in args.sizes]
            a, b = fit(rows)
            print(f"{backbone:20}{str(mixed):>6}{rows[0]['weights_mib']:12.0f}" + "".join(f"{r['run_mib']:9.0f}" for r in rows)
                  + f"{a:8.0f}{b:11.0f}", flush=True)


if __name__ == "__main__":
    main()
