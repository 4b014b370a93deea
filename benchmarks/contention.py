"""How much does a busy second process slow a run? Alone vs. next to a CPU-bound competitor.

    .venv/bin/python benchmarks/contention.py [--steps 30] [--size 256] [--policies default,steady]

Each measurement is a fresh interpreter (thread settings are read when torch loads) running the
`fast` preset on the bundled images with EfficientNet-Lite0. The competitor is one process per
core doing single-threaded matrix products (numpy), started a second before the run and ended
after it. Policies: `default` = torch as it comes (OpenMP threads spin while they wait; the
worker loads torch before nst_helpers, whose import would otherwise apply `steady`);
`steady` = the environment nst_helpers.core.threads.steady() makes (OMP_WAIT_POLICY=PASSIVE, before
torch loads), as `make` and the notebooks' kernel give it. Prints seconds per step (from step 2
on: step 1 carries the set-up) and the slowdown; takes 1-3 minutes. It disturbs every other
timing on the machine while it runs.
"""
import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
POLICY_AT_LOAD = os.environ.get("OMP_WAIT_POLICY", "(unset)")
if "--torch-first" in sys.argv:  # the `default` worker: torch loads before nst_helpers can call
    import torch  # noqa: F401   threads.steady(), so libgomp reads the wait policy as torch alone has it
from nst_helpers.core import threads  # noqa: E402  (loads torch here: harmless, every run is a child process)
THREAD_VARS = ("OMP_WAIT_POLICY", "GOMP_SPINCOUNT", "OMP_NUM_THREADS", "MKL_NUM_THREADS", "NST_THREADS")
COMPETITOR = """
import numpy as np
a = np.random.default_rng(0).random((384, 384))
while True:
    a = a @ a
    a /= np.abs(a).max()
"""


def worker(steps: int, size: int) -> dict:
    """One run in this process (called in a fresh interpreter, its environment set); its timings."""
    import torch
    from nst_helpers.backbones import EfficientNetLite0Features
    from nst_helpers.core.config import preset
    from nst_helpers.core.transfer import run
    cfg = preset("fast", steps=steps, size=size, backbone="efficientnet_lite0", early_stop_window=0)
    r = run(ROOT / "images/content.jpg", ROOT / "images/style.jpg", cfg, backbone=EfficientNetLite0Features(),
            device="cpu", progress=False)
    h = r.history  # per step from step 2 on: step 1 carries the set-up
    return {"steps": len(h), "per_step_s": (h[-1]["elapsed"] - h[0]["elapsed"]) / (len(h) - 1), "run_s": r.seconds,
            "threads": torch.get_num_threads(), "wait_policy": POLICY_AT_LOAD}


def measure(steps: int, size: int, policy: str, busy: bool) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in THREAD_VARS}
    env["PYTHONPATH"] = str(ROOT)
    if policy == "steady":
        threads.steady(env)
    rivals = []
    if busy:
        solo = {**env, "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
        rivals = [subprocess.Popen([sys.executable, "-c", COMPETITOR], env=solo) for _ in range(os.cpu_count() or 2)]
        time.sleep(1.0)
    try:
        first = ["--torch-first"] if policy == "default" else []
        p = subprocess.run([sys.executable, __file__, "--worker", *first, "--steps", str(steps), "--size", str(size)],
                           env=env, capture_output=True, text=True, timeout=900)
    finally:
        for r in rivals:
            r.kill()
            r.wait()
    if p.returncode:
        raise RuntimeError(p.stderr[-2000:])
    return json.loads(p.stdout.strip().splitlines()[-1])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--policies", default="default,steady", help="comma-separated: default, steady")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--torch-first", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.worker:
        print(json.dumps(worker(args.steps, args.size)))
        return
    print(f"load average at start: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs; "
          f"fast preset, {args.steps} steps at {args.size} px, EfficientNet-Lite0")
    for policy in args.policies.split(","):
        alone = measure(args.steps, args.size, policy, busy=False)
        busy = measure(args.steps, args.size, policy, busy=True)
        print(f"{policy:8s} ({alone['threads']} threads, OMP_WAIT_POLICY {alone['wait_policy']}): "
              f"alone {alone['per_step_s']:.3f} s/step ({alone['run_s']:.1f} s), "
              f"with competitor {busy['per_step_s']:.3f} s/step ({busy['run_s']:.1f} s): "
              f"slowdown {busy['per_step_s'] / alone['per_step_s']:.1f}x", flush=True)


if __name__ == "__main__":
    main()
