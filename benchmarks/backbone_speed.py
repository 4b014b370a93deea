"""Time per forward+backward of each offline backbone at one size, as a style-transfer step uses it.

BN folded (load_backbone's default), channels_last input (as transfer.run), features only up to
the deepest preset layer (conv1_1..conv5_1 and conv4_2, mapped), the gradient to the image only.
Backbones are timed in turn within each repeat, so a load change on shared cores hits all alike;
on busy cores the process CPU time and the FLOP count (neither depends on the neighbours) say more.

    python benchmarks/backbone_speed.py [--size 512] [--repeats 5] [--threads 2]
"""
import argparse
import os
import statistics
import time

import torch
from torch.utils.flop_counter import FlopCounterMode

from nst_helpers.backbones import OFFLINE, resolve_layers

PRESET_LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"]


def step(net, image: torch.Tensor) -> None:
    """One forward to the mapped layers, a loss on every activation, backward to the image."""
    x = image.detach().requires_grad_(True)
    feats = net(x, resolve_layers(net, PRESET_LAYERS))
    sum(f.square().mean() for f in feats.values()).backward()


def step_seconds(net, image: torch.Tensor) -> tuple[float, float]:
    """(wall, process CPU) seconds of one step."""
    wall, cpu = time.perf_counter(), time.process_time()
    step(net, image)
    return time.perf_counter() - wall, time.process_time() - cpu


def step_gflops(net, image: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter:
        step(net, image)
    return counter.get_total_flops() / 1e9


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    print(f"load average {os.getloadavg()[0]:.2f}, torch {torch.__version__}, {args.threads} threads")
    nets = {name: cls() for name, cls in OFFLINE.items()}
    image = torch.rand(1, 3, args.size, args.size).contiguous(memory_format=torch.channels_last)
    times = {name: [] for name in nets}
    for net in nets.values():
        step(net, image)  # warm-up: allocator and kernel selection
    for _ in range(args.repeats):
        for name, net in nets.items():
            times[name].append(step_seconds(net, image))
    base = [statistics.median(t[i] for t in times["efficientnet_lite0"]) for i in (0, 1)]
    base_flops = step_gflops(nets["efficientnet_lite0"], image)
    for name, ts in times.items():
        wall, cpu = (statistics.median(t[i] for t in ts) for i in (0, 1))
        flops = step_gflops(nets[name], image)
        print(f"{name:20} wall {wall:.3f} s ({wall / base[0]:.2f}x)  cpu {cpu:.3f} s ({cpu / base[1]:.2f}x)  "
              f"{flops:.2f} GFLOP ({flops / base_flops:.2f}x)  walls: {' '.join(f'{t[0]:.3f}' for t in ts)}")
    print(f"load average {os.getloadavg()[0]:.2f} at the end")


if __name__ == "__main__":
    main()
