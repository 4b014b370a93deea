"""run_grid: every cell of a grid as one Dask task, resumable, with a bar over cells and, at the end,
the contact sheet and the metrics table.

    from nst_helpers.grid import load, run_grid
    report = run_grid(load("sweep.yaml"))            # a LocalCluster sized to this machine
    report = run_grid(grid, client=Client("tcp://host:8786"))   # an existing cluster

Finished cells (a complete folder, from the same config and images: store.is_done) are skipped; a
failed cell is reported with its error and the others go on; a rerun retries only what is missing,
failed or changed. A worker that dies mid-cell has its
cell rerun elsewhere by the scheduler (Dask's allowed-failures), and since workers send files
rather than write them, nothing of the dead one's reaches the grid's folder.
"""
import time
from dataclasses import dataclass, field
from pathlib import Path

from ..core.progress import progress_bar
from . import cluster, sheet, store, task


@dataclass
class GridReport:
    name: str
    folder: Path
    cells: list                 # every cell's name, in the grid's order
    ran: list = field(default_factory=list)
    skipped: list = field(default_factory=list)
    failed: dict = field(default_factory=dict)   # cell -> its error in a line
    timings: dict = field(default_factory=dict)  # cell -> {"seconds", "worker"}
    where: str = ""
    dashboard: str | None = None
    seconds: float = 0.0
    outputs: dict = field(default_factory=dict)  # "sheet", "metrics_csv", "metrics_md" -> path

    def summary(self) -> str:
        lines = [f"grid {self.name}: {len(self.cells)} cells, {len(self.ran)} run, {len(self.skipped)} finished "
                 f"before, {len(self.failed)} failed, in {self.seconds:.1f} s on {self.where}"]
        lines += [f"  failed {cell}: {error}" for cell, error in self.failed.items()]
        lines += [f"  {what}: {path}" for what, path in self.outputs.items()]
        if self.failed:
            lines.append("  run the grid again to retry the failed cells (finished ones are kept)")
        return "\n".join(lines)


def run_grid(grid, client=None, scheduler: str | None = None, workers: int | None = None, out="outputs",
             progress: bool = True, on_cell=None, dashboard: str = cluster.DASHBOARD) -> GridReport:
    """Run every unfinished cell of `grid` into out/<grid name>/<cell>/; a GridReport.
    client or scheduler: an existing cluster; otherwise a LocalCluster of `workers` (default: sized
    to the machine, cluster.local_plan) with its dashboard at `dashboard` (default: 127.0.0.1 only).
    on_cell(report, cell name): after each cell (tests stop there)."""
    cells = grid.cells()
    root = Path(out) / grid.name
    store.tidy(root)
    report = GridReport(grid.name, root, [c.name for c in cells])
    todo = [c for c in cells if not store.is_done(root, c)]
    report.skipped = [c.name for c in cells if c not in todo]
    t0 = time.perf_counter()
    report.where = "no cluster (every cell had finished before)"
    if todo:
        with cluster.client_for(client, scheduler, workers, dashboard, grid.device) as (dask, threads, where):
            report.where, report.dashboard = where, getattr(dask, "dashboard_link", None)
            if progress:
                print(f"[grid] {grid.name}: {len(todo)} of {len(cells)} cells to run on {where}; dashboard "
                      f"{report.dashboard}", flush=True)
            _run(dask, grid, todo, threads, root, report, progress, on_cell)
    report.seconds = time.perf_counter() - t0
    store.write_failures(root, report.failed)
    report.outputs = sheet.write_summary(grid, cells, root)
    return report


def _run(dask, grid, todo, threads, root, report, progress, on_cell) -> None:
    from distributed import as_completed
    resources = {"GPU": 1} if (grid.device or "").startswith("cuda") else None
    futures = {dask.submit(task.run_cell, task.payload(c, grid), threads, key=f"cell-{grid.name}-{c.name}-{time.time_ns()}",
                           resources=resources, pure=False): c.name for c in todo}
    bar = progress_bar(total=len(todo), desc=f"grid {grid.name}", unit="cell") if progress else None
    try:
        for future in as_completed(futures):
            name = futures[future]
            try:
                done = future.result()
            except Exception as err:   # the cell's own error (or KilledWorker after repeated deaths): the others go on
                report.failed[name] = f"{type(err).__name__}: {' '.join(str(err).split())}"[:500]
            else:
                store.write_cell(root, name, done["files"])
                report.ran.append(name)
                report.timings[name] = {"seconds": done["seconds"], "worker": done["worker"]}
            if bar is not None:
                bar.set_postfix(failed=len(report.failed))
                bar.update(1)
            if on_cell is not None:
                on_cell(report, name)
    finally:   # interrupted: nothing more is started; what finished is kept
        dask.cancel([f for f in futures if not f.done()])
        if bar is not None:
            bar.close()


def run_serial(grid, out="outputs", threads: int | None = None) -> GridReport:
    """The same cells one after another in this process, without Dask (the benchmark's reference)."""
    cells, root = grid.cells(), Path(out) / grid.name
    report, t0 = GridReport(grid.name, root, [c.name for c in cells], where="this process, no Dask"), time.perf_counter()
    for c in cells:
        done = task.run_cell(task.payload(c, grid), threads)
        if not store.is_done(root, c):
            store.write_cell(root, c.name, done["files"])
        report.ran.append(c.name)
        report.timings[c.name] = {"seconds": done["seconds"], "worker": done["worker"]}
    report.seconds = time.perf_counter() - t0
    return report
