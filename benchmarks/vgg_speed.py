"""VGG19 (the original weights) per style-transfer step, one idea at a time: fp32 or bf16 autocast,
NCHW or channels_last input, and (--compile) torch.compile on top of the fastest. A step: forward to conv1_1..conv5_1 and conv4_2, a loss on each
activation, backward to the image, as transfer.run does it (objective.autocast_for, objective.nhwc).
Variants are timed in turn within each repeat, so a load change hits all alike.

    .venv/bin/python benchmarks/vgg_speed.py [--size 512] [--repeats 5] [--compile] [--runs 3]

--runs N: then N whole runs of the fast preset (its VGG19 recipe) on the bundled pair at --size,
in fp32 and in bf16 (the recipe's), alternately, each run's wall time and the medians.
"""
import argparse
import os
import statistics
import time

from nst_helpers.backbones import load_backbone  # first: torch's threads then wait passively

import torch  # noqa: E402
from nst_helpers.core.objective import autocast_for  # noqa: E402

LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"]
VARIANTS = {"fp32 NCHW": (False, False), "fp32 channels_last": (False, True),
            "bf16 NCHW": (True, False), "bf16 channels_last": (True, True)}


def step(net, image: torch.Tensor, mixed: bool, nhwc: bool) -> float:
    x = image.detach().requires_grad_(True)
    t = time.perf_counter()
    with autocast_for(torch.device("cpu"), mixed):
        feats = net(x.contiguous(memory_format=torch.channels_last) if nhwc else x, LAYERS)
    sum(f.float().square().mean() for f in feats.values()).backward()
    return time.perf_counter() - t


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--runs", type=int, default=0, help="whole fast-preset runs per precision (0: none)")
    ap.add_argument("--compile", action="store_true", help="also time torch.compile(net) in bf16 channels_last "
                    "(its first steps compile: timed apart)")
    args = ap.parse_args()
    torch.set_num_threads(os.cpu_count() or 2)
    print(f"load average {os.getloadavg()[0]:.2f}, torch {torch.__version__}, {torch.get_num_threads()} threads, "
          f"native bf16: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}")
    net = load_backbone("vgg19_original", verbose=False)
    image = torch.rand(1, 3, args.size, args.size)
    nets = {name: net for name in VARIANTS}
    if args.compile:
        nets["bf16 channels_last compiled"] = torch.compile(net)
        VARIANTS["bf16 channels_last compiled"] = (True, True)
    times = {name: [] for name in VARIANTS}
    for name, (mixed, nhwc) in VARIANTS.items():
        t = time.perf_counter()
        for _ in range(2 if "compiled" in name else 1):   # warm-up: allocator, kernel selection, compiling
            step(nets[name], image, mixed, nhwc)
        if "compiled" in name:
            print(f"{name}: compiling and two warm-up steps took {time.perf_counter() - t:.1f} s", flush=True)
    for _ in range(args.repeats):
        for name, (mixed, nhwc) in VARIANTS.items():
            times[name].append(step(nets[name], image, mixed, nhwc))
    base = statistics.median(times["fp32 NCHW"])
    for name, ts in times.items():
        print(f"{name:20} median {statistics.median(ts):.3f} s ({base / statistics.median(ts):.2f}x faster than fp32 NCHW)"
              f"  steps: {' '.join(f'{t:.3f}' for t in ts)}")
    if args.runs:
        whole_runs(net, args.size, args.runs)
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


def whole_runs(net, size: int, runs: int) -> None:
    """The fast preset's VGG19 recipe on the bundled pair, fp32 and bf16 in turn, `runs` of each."""
    from pathlib import Path
    from nst_helpers import preset, run
    from nst_helpers.core.images import load_image
    root = Path(__file__).resolve().parents[1]
    content, style = (load_image(root / "images" / f, max_size=size) for f in ("content.jpg", "style.jpg"))
    cfg = preset("fast", size=size, backbone=net.name)
    seconds = {"fp32": [], "bf16": []}
    for _ in range(runs):
        for name, mixed in (("fp32", False), ("bf16", True)):
            t = time.perf_counter()
            r = run(content, style, cfg.replace(mixed_precision=mixed), backbone=net, progress=False)
            seconds[name].append(time.perf_counter() - t)
            print(f"fast preset, {name}: {seconds[name][-1]:.1f} s ({len(r.history)} steps, {r.stop_reason})", flush=True)
    for name, ts in seconds.items():
        print(f"fast preset {name}: median {statistics.median(ts):.1f} s of {len(ts)} runs at {size} px")


if __name__ == "__main__":
    main()
