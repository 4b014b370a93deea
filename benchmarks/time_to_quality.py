"""How much sooner does the `fast` preset get there than the seed's recipe?

Part 1, time to quality: for each size, the seed's baseline (Adam, lr 0.003, 5000 steps) and
the `fast` preset run through the same `run()` on the same images, size and backbone, so the
loss (style_scale included) is the same function. The baseline's final loss is the target;
the fast preset's time is the `elapsed` of the first history row, at the full size, whose
loss is at or below it (that row's loss is of the image before its step, so this is
conservative by up to one step). Also: the fast preset's final loss with mixed precision,
against its fp32 run.

Part 2, step cost: one seed (Adam) step, i.e. one forward + backward + update, in fp32 and
in mixed precision, for both backbones at several sizes, each in a fresh process so its peak
memory is its own. VGG19 uses random weights here (same cost; never show such an image).

Part 3, a 512 px `fast` result, run()'s wall time: EfficientNet-Lite0, and VGG19 (random
weights, mixed precision, priced per loss evaluation; see result_at_size).

    .venv/bin/python benchmarks/time_to_quality.py                 # everything, ~25 min on 2 cores
    .venv/bin/python benchmarks/time_to_quality.py --sizes 256 --no-step-costs --no-result-run
    .venv/bin/python benchmarks/time_to_quality.py --baseline-from out.json   # reuse Adam runs

Runs on CUDA when present (or --device). Wait for a quiet machine: the load average is
printed because other processes on the same cores distort every figure.
"""
import argparse
import concurrent.futures as cf
import json
import multiprocessing
import os
import platform
import resource
import statistics
import sys
import time

import torch

from nst_helpers import preset, run
from nst_helpers.backbones import load_backbone
from nst_helpers.core.images import load_image, resize_to
from nst_helpers.core.objective import StyleObjective
from nst_helpers.core.devices import pick_device
from nst_helpers.backbones.vgg import VGG19Features

CONTENT, STYLE = "images/content.jpg", "images/style.jpg"
BACKBONE = "efficientnet_lite0"


def load() -> str:
    return "load average %.2f %.2f %.2f" % os.getloadavg()


def machine(device) -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")),
               platform.processor()) if os.path.exists("/proc/cpuinfo") else platform.processor()
    gpu = f", {torch.cuda.get_device_name()}" if device.type == "cuda" else ""
    return (f"{os.cpu_count()} CPUs ({cpu}){gpu}; torch {torch.__version__}, {torch.get_num_threads()} threads; "
            f"device {device}; bf16 on CPU: {torch.ops.mkldnn._is_mkldnn_bf16_supported()}")


def first_reaching(history, target, size):
    """The first row at `size` whose loss is <= target, else None."""
    return next((h for h in history if h["size"] == size and h["total"] <= target), None)


@torch.no_grad()
def fp32_loss(net, image, content, style, cfg) -> float:
    """The run's weighted total loss of `image`, always in fp32 (a mixed-precision run reports
    its loss as its bf16 backbone saw it): the run's own StyleObjective at the image's size."""
    hw = tuple(image.shape[-2:])
    objective = StyleObjective(net, cfg.replace(mixed_precision=False), resize_to(content, hw), resize_to(style, hw))
    return objective(image)[0].item()


def time_to_quality(net, size, args, device, baselines) -> dict:
    content, style = load_image(CONTENT, max_size=size), load_image(STYLE, max_size=size)
    key = str(size)
    if key in baselines:
        base = baselines[key]
        print(f"  seed baseline: reused from {args.baseline_from}")
    else:
        cfg = preset("baseline", size=size, steps=args.adam_steps, snapshot_every=args.adam_steps, backbone=BACKBONE)
        print(f"  seed baseline: Adam lr {cfg.lr}, {cfg.steps} steps ... ({load()})", flush=True)
        r = run(content, style, cfg, backbone=net, device=device, progress=False)
        base = {"loss": r.history[-1]["total"], "seconds": r.history[-1]["elapsed"], "steps": len(r.history),
                "final_loss_fp32": fp32_loss(net, r.image.to(device), r.content.to(device), r.style.to(device), cfg)}
    print(f"  seed baseline: final loss {base['loss']:.4f} after {base['steps']} steps, {base['seconds']:.1f} s")
    out = {"size": size, "baseline": base}
    if size in args.mixed_seed_sizes and "final_loss_fp32" in base:
        cfg = preset("baseline", size=size, steps=base["steps"], snapshot_every=base["steps"], backbone=BACKBONE,
                     mixed_precision=True)
        r = run(content, style, cfg, backbone=net, device=device, progress=False)
        loss = fp32_loss(net, r.image.to(device), r.content.to(device), r.style.to(device), cfg)
        rel = abs(loss - base["final_loss_fp32"]) / base["final_loss_fp32"]
        out["baseline_mixed"] = {"seconds": r.history[-1]["elapsed"], "final_loss_fp32": loss, "vs_fp32": rel}
        print(f"  seed baseline in mixed precision: {r.history[-1]['elapsed']:.1f} s; final images' losses (both "
              f"in fp32) {loss:.4f} vs {base['final_loss_fp32']:.4f}: {100 * rel:.2f}% apart", flush=True)
    for label, mixed in (("fp32", False), ("mixed", True)):
        cfg = preset("fast", size=size, backbone=BACKBONE, mixed_precision=mixed)
        r = run(content, style, cfg, backbone=net, device=device, progress=False)
        hit = first_reaching(r.history, base["loss"], size)
        res = {"final_loss": r.history[-1]["total"], "steps": len(r.history), "seconds": r.seconds,
               "final_loss_fp32": fp32_loss(net, r.image.to(device), r.content.to(device), r.style.to(device), cfg),
               "stop": r.stop_reason, "hit_seconds": hit["elapsed"] if hit else None, "hit_step": hit["step"] if hit else None}
        out[label] = res
        when = (f"reaches it at step {hit['step']}, {hit['elapsed']:.2f} s: {base['seconds'] / hit['elapsed']:.1f}x sooner"
                if hit else "never reaches it")
        print(f"  fast ({label}): {res['steps']} steps in {r.seconds:.1f} s ({r.stop_reason}), final loss "
              f"{res['final_loss']:.4f} (in fp32: {res['final_loss_fp32']:.4f}); {when}", flush=True)
        if label == "fp32":  # the fp32 re-evaluation mirrors run(): same value at the start image
            check = fp32_loss(net, r.content.to(device), r.content.to(device), r.style.to(device), cfg)
            print(f"  (check: loss of the content image {check:.4f} here, {r.history[0]['total']:.4f} in run())")
    rel = abs(out["mixed"]["final_loss_fp32"] - out["fp32"]["final_loss_fp32"]) / out["fp32"]["final_loss_fp32"]
    out["mixed_vs_fp32_final_loss"] = rel
    print(f"  mixed precision vs fp32, final images' losses (both in fp32): {100 * rel:.2f}% apart")
    return out


def step_cost(backbone: str, size: int, mixed: bool, steps: int, device: str) -> dict:
    """In a fresh process: median seconds per seed (Adam) step, and peak memory."""
    torch.set_num_threads(int(os.environ.get("NST_BENCH_THREADS", torch.get_num_threads())))
    torch.manual_seed(0)
    net = VGG19Features() if backbone == "vgg19" else load_backbone(backbone, verbose=False)
    content, style = load_image(CONTENT, max_size=size), load_image(STYLE, max_size=size)
    cfg = preset("baseline", size=size, steps=steps + 2, snapshot_every=steps + 2, backbone=BACKBONE,
                 mixed_precision=mixed)
    dev = pick_device(device)
    if dev.type == "cuda":
        torch.cuda.reset_peak_memory_stats()
    rss0 = reset_peak_rss()
    r = run(content, style, cfg, backbone=net, device=device, progress=False)
    t = [b["elapsed"] - a["elapsed"] for a, b in zip(r.history[1:], r.history[2:])]  # first two: warm-up
    peak = torch.cuda.max_memory_allocated() / 2**20 if dev.type == "cuda" else peak_rss() - rss0
    return {"backbone": backbone, "size": size, "mixed": mixed, "seconds": statistics.median(t), "peak_mib": peak}


def _status_mib(key: str) -> float:
    return next(int(line.split()[1]) for line in open("/proc/self/status") if line.startswith(key)) / 1024


def reset_peak_rss() -> float:
    """Reset this process's peak RSS (Linux: clear_refs 5) and return the current RSS, MiB.
    Elsewhere the peak cannot be reset: the figure is then the growth of the all-time peak."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return _status_mib("VmRSS:")
    except OSError:
        return peak_rss()


def peak_rss() -> float:
    try:
        return _status_mib("VmHWM:")
    except OSError:
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def step_costs(args) -> list:
    rows = []
    configs = [(b, s) for b in (BACKBONE, "vgg19") for s in args.step_sizes
               if b == "vgg19" or s != 384]
    print(f"{'backbone':20} {'size':>5} {'fp32 s/step':>12} {'mixed s/step':>13} {'speed-up':>9} "
          f"{'fp32 MiB':>9} {'mixed MiB':>10}   ({load()})")
    ctx = multiprocessing.get_context("spawn")
    for backbone, size in configs:
        pair = []
        for mixed in (False, True):
            with cf.ProcessPoolExecutor(1, mp_context=ctx) as pool:  # fresh process: its own peak memory
                pair.append(pool.submit(step_cost, backbone, size, mixed, args.cost_steps, args.device).result())
        rows += pair
        print(f"{backbone:20} {size:5d} {pair[0]['seconds']:12.3f} {pair[1]['seconds']:13.3f} "
              f"{pair[0]['seconds'] / pair[1]['seconds']:8.2f}x {pair[0]['peak_mib']:9.0f} {pair[1]['peak_mib']:10.0f}",
              flush=True)
    return rows


def counting(net):
    """`net` with a counter of its gradient-enabled calls (the loss evaluations): net.evals."""
    forward, net.evals = net.forward, 0

    def counted(image, layers):
        net.evals += torch.is_grad_enabled()
        return forward(image, layers)
    net.forward = counted
    return net


def result_at_size(net, args, device) -> dict:
    """The fast preset at --result-size: EfficientNet-Lite0 for real; VGG19 with random weights
    for timing. A random VGG19 makes L-BFGS wander (more line-search evaluations per step than
    real weights would), so its time is priced per evaluation: VGG19's seconds per evaluation
    times the evaluations EfficientNet-Lite0's run needed."""
    size = args.result_size
    content, style = load_image(CONTENT, max_size=size), load_image(STYLE, max_size=size)
    out = {"size": size}
    net = counting(net)
    r = run(content, style, preset("fast", size=size, backbone=BACKBONE), backbone=net, device=device, progress=False)
    evals = net.evals
    del net.forward, net.evals
    out["efficientnet_lite0"] = {"seconds": r.seconds, "steps": len(r.history), "evals": evals}
    print(f"  EfficientNet-Lite0, fast at {size} px: {r.seconds:.1f} s for {len(r.history)} steps, {evals} loss "
          f"evaluations ({r.seconds / evals:.3f} s each, {r.stop_reason})")
    if args.vgg_steps:
        torch.manual_seed(0)
        vgg = counting(VGG19Features())  # random weights: timing only, the image means nothing
        cfg = preset("fast", size=size, backbone="vgg19", mixed_precision=True, steps=args.vgg_steps)
        r = run(content, style, cfg, backbone=vgg, device=device, progress=False)
        per = r.seconds / vgg.evals
        out["vgg19_random_mixed"] = {"seconds": per * evals, "seconds_per_eval": per, "measured_evals": vgg.evals}
        print(f"  VGG19 (random weights, timing only), fast + mixed precision at {size} px: {vgg.evals} evaluations "
              f"in {r.seconds:.1f} s, {per:.3f} s each; x {evals} evaluations = {per * evals:.0f} s for a result")
    return out


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--sizes", type=int, nargs="*", default=[256, 512], help="time-to-quality sizes (none: skip part 1)")
    ap.add_argument("--adam-steps", type=int, default=5000, help="the seed baseline's steps")
    ap.add_argument("--mixed-seed-sizes", type=int, nargs="*", default=[256],
                    help="sizes at which the seed baseline also runs in mixed precision (its final loss vs fp32's)")
    ap.add_argument("--baseline-from", metavar="JSON", help="reuse the baseline runs of an earlier --json output")
    ap.add_argument("--step-sizes", type=int, nargs="+", default=[256, 384, 512], help="step-cost sizes (384: VGG19 only)")
    ap.add_argument("--cost-steps", type=int, default=5, help="timed steps per step-cost figure")
    ap.add_argument("--no-step-costs", dest="step_costs", action="store_false")
    ap.add_argument("--no-result-run", dest="result_run", action="store_false", help="skip part 3")
    ap.add_argument("--result-size", type=int, default=512, help="part 3's size")
    ap.add_argument("--vgg-steps", type=int, default=20, help="part 3: timed VGG19 steps (0: skip VGG19)")
    ap.add_argument("--device", default=None, help="cpu or cuda (default: the best available)")
    ap.add_argument("--json", metavar="PATH", help="also write every figure to this file")
    args = ap.parse_args()
    device = pick_device(args.device)
    args.device = str(device)
    print(f"machine: {machine(device)}")
    print(f"start: {load()}", flush=True)
    t0 = time.perf_counter()
    t = time.perf_counter()
    net = load_backbone(BACKBONE)
    print(f"backbone loaded in {time.perf_counter() - t:.1f} s (not in any figure below)")
    baselines = {}
    if args.baseline_from:
        baselines = {str(r["size"]): r["baseline"] for r in json.load(open(args.baseline_from))["time_to_quality"]}
    report = {"machine": machine(device), "command": " ".join([os.path.basename(sys.executable)] + sys.argv),
              "time_to_quality": [], "step_costs": []}
    fast = preset("fast")
    print(f"fast preset: {fast.optimizer} lr {fast.lr}, {fast.steps} steps, scales {fast.scales} "
          f"{fast.scale_steps}, size {fast.size}, mixed_precision {fast.mixed_precision}, "
          f"early stop {fast.early_stop_window}/{fast.early_stop_tol}")
    for size in args.sizes:
        print(f"\n== time to quality, {BACKBONE} at {size} px ({load()})")
        report["time_to_quality"].append(time_to_quality(net, size, args, device, baselines))
    if args.step_costs:
        print("\n== time per seed step (forward + backward + Adam update), median of the timed steps; peak "
              "memory: the run's peak RSS above the RSS before it (CPU) or peak allocated (CUDA), MiB")
        report["step_costs"] = step_costs(args)
    if args.result_run:
        print(f"\n== a {args.result_size} px result with the fast preset: run() wall time ({load()})")
        report["result"] = result_at_size(net, args, device)
    print(f"\nsummary ({load()}, {time.perf_counter() - t0:.0f} s in all):")
    for r in report["time_to_quality"]:
        hit = r["fp32"]["hit_seconds"]
        ratio = f"{r['baseline']['seconds'] / hit:.1f}x sooner" if hit else "not reached"
        print(f"  {r['size']} px: seed baseline {r['baseline']['seconds']:.1f} s -> loss {r['baseline']['loss']:.4f}; "
              f"fast reaches it in {hit if hit is None else round(hit, 2)} s: {ratio}; mixed precision's final loss "
              f"{100 * r['mixed_vs_fp32_final_loss']:.2f}% from fp32's"
              + (f" (seed recipe: {100 * r['baseline_mixed']['vs_fp32']:.2f}%)" if "baseline_mixed" in r else ""))
    costs = {(c["backbone"], c["size"], c["mixed"]): c["seconds"] for c in report["step_costs"]}
    for (b, size, mixed), sec in costs.items():
        if mixed and (b, size, False) in costs:
            print(f"  {b} at {size} px: mixed precision {costs[(b, size, False)] / sec:.2f}x faster per step than fp32")
    for b, v in report.get("result", {}).items():
        if b != "size":
            print(f"  {b}: a {report['result']['size']} px fast result in {v['seconds']:.1f} s"
                  + (" (priced per evaluation)" if "seconds_per_eval" in v else ""))
    if args.json:
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(report, f, indent=2)


if __name__ == "__main__":
    main()
