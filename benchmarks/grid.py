"""A 16-cell grid (the fast preset at 256 px, style weight x total variation, on the bundled pair) three
ways: a LocalCluster of 2 workers x 1 torch thread, one of 1 worker x 2 torch threads, and the same
cells one after another in this process without Dask (2 torch threads, one backbone load).

    .venv/bin/python benchmarks/grid.py [--size 256] [--backbone efficientnet_lite0] [--repeats 1]
    .venv/bin/python benchmarks/grid.py --size 64 --steps 6 --cells 4     # does it work: seconds

Printed per way: the wall time (with the cluster's start, and without it), the cells' own seconds
(measured inside each task), and the scheduler's overhead per cell: the grid's wall time without
the start, less the cells' own seconds shared over the workers, over the cells. Each way writes
its own folder under outputs/benchmarks/grid/, emptied first, so no cell is skipped.
"""
import argparse
import shutil
import statistics
import time
from pathlib import Path

from nst_helpers import preset  # noqa: F401  first: torch's threads then wait passively (core/threads.py)

from nst_helpers.grid import Grid, cluster, run_grid, run_serial  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
STYLE_WEIGHTS = [3e6, 1e7, 3e7, 1e8]
TV_WEIGHTS = [0, 300, 1000, 3000]


def the_grid(args, name: str) -> Grid:
    over = {"size": args.size, "backbone": args.backbone, **({"steps": args.steps} if args.steps else {})}
    side = max(1, int(round(args.cells ** 0.5)))
    axes = {"style_weight": STYLE_WEIGHTS[:side], "tv_weight": TV_WEIGHTS[:max(1, args.cells // side)]}
    return Grid(name, contents=["images/content.jpg"], styles=["images/style.jpg"], presets=["fast"], base=over,
                axes=axes, root=ROOT)


def on_dask(args, workers: int, out: Path) -> dict:
    name = f"dask-{workers}x{cluster.cores() // workers}"
    shutil.rmtree(out / name, ignore_errors=True)
    t0 = time.perf_counter()
    local, client, plan = cluster.start_local(workers)
    client.wait_for_workers(workers)
    started = time.perf_counter() - t0
    try:
        report = run_grid(the_grid(args, name), client=client, out=out, progress=False)
    finally:
        client.close()
        local.close()
    assert not report.failed, report.summary()
    own = sum(t["seconds"] for t in report.timings.values())
    n = len(report.cells)
    return {"way": f"{workers} worker(s) x {plan['torch_threads']} torch thread(s)", "wall": started + report.seconds,
            "grid": report.seconds, "start": started, "cells_s": own, "overhead": (report.seconds - own / workers) / n}


def serial(args, out: Path) -> dict:
    shutil.rmtree(out / "serial", ignore_errors=True)
    report = run_serial(the_grid(args, "serial"), out=out, threads=cluster.cores())
    own = sum(t["seconds"] for t in report.timings.values())
    return {"way": f"one after another, no Dask ({cluster.cores()} torch threads)", "wall": report.seconds,
            "grid": report.seconds, "start": 0.0, "cells_s": own, "overhead": (report.seconds - own) / len(report.cells)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--steps", type=int, default=None, help="default: the fast recipe's")
    ap.add_argument("--cells", type=int, default=16)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--repeats", type=int, default=1, help="each way this many times: the median is printed")
    ap.add_argument("--out", default="outputs/benchmarks/grid")
    args = ap.parse_args()
    out = Path(args.out)
    ways = [lambda: on_dask(args, 2, out), lambda: on_dask(args, 1, out), lambda: serial(args, out)]
    print(f"[grid] {args.cells} cells, fast preset at {args.size} px on {args.backbone}, {cluster.cores()} cores")
    print("| way | wall s (with the cluster's start) | grid s (without) | start s | cells' own s | overhead s/cell |")
    print("|---|---|---|---|---|---|")
    for way in ways:
        runs = [way() for _ in range(args.repeats)]
        med = {k: statistics.median(r[k] for r in runs) for k in ("wall", "grid", "start", "cells_s", "overhead")}
        print(f"| {runs[0]['way']} | {med['wall']:.1f} | {med['grid']:.1f} | {med['start']:.1f} | "
              f"{med['cells_s']:.1f} | {med['overhead']:.2f} |", flush=True)


if __name__ == "__main__":
    main()
