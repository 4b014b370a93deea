"""`make experiments`: the seed's experiment matrix as a grid (the four presets, nst_helpers.grid,
into outputs/experiments/), then notebooks 00-04 executed with papermill (01-04 re-use the grid's
runs: compare.find_latest), then where everything is (the comparison it reports on is compare.py's).

    python -m nst_helpers.notebook.execute [--recipe fast|seed] [--size PX] [--steps N] [--workers N]

runs them into outputs/notebooks/ and prints the grid's and the comparison's tables and folders.
"""
import argparse
import json
import time

from ..runs import folders
from .settings import project_root, settings

NOTEBOOKS = ("00_baseline", "01_exp1_early_layers", "02_exp2_balanced", "03_exp3_content_details",
             "04_compare_experiments")


def main(argv=None) -> int:
    """`make experiments`: execute notebooks 00-04 with papermill and print where the results are."""
    p = argparse.ArgumentParser(prog="python -m nst_helpers.notebook.execute", description=main.__doc__)
    p.add_argument("--recipe", default="fast", choices=("fast", "seed"), help="fast: the painting recipe, L-BFGS; seed: Adam, 5000 steps (the settings cell says what each costs here)")
    p.add_argument("--size", type=int, default=None, help="longest side in px (default: the recipe's)")
    p.add_argument("--steps", type=int, default=None, help="steps per run (default: the recipe's)")
    p.add_argument("--out", default="outputs/notebooks", help="folder for the executed notebooks")
    p.add_argument("--workers", type=int, default=None, help="the grid's LocalCluster workers (default: sized to the machine)")
    args = p.parse_args(argv)
    import papermill
    from ..grid import run_grid
    from .grid import experiments
    root = project_root()
    s = settings(recipe=args.recipe, size=args.size, steps=args.steps)
    report = run_grid(experiments(s), workers=args.workers, out=s.outputs)   # the one code path of grids
    print(report.summary())
    out = root / args.out
    out.mkdir(parents=True, exist_ok=True)
    params = {"recipe": args.recipe, "size": args.size, "steps": args.steps}
    t0 = time.perf_counter()
    for nb in NOTEBOOKS:
        t = time.perf_counter()
        papermill.execute_notebook(root / "notebooks" / f"{nb}.ipynb", out / f"{nb}.ipynb", parameters=params,
                                   cwd=str(root / "notebooks"), kernel_name="python3", progress_bar=False)
        print(f"[experiments] {nb}.ipynb executed in {time.perf_counter() - t:.0f} s")
    latest = folders.complete_folders(s.outputs / "comparison")[0]
    print(f"\n[experiments] all five notebooks in {time.perf_counter() - t0:.0f} s; executed copies in {out}/")
    print(f"[experiments] comparison (grid.png, losses.png, metrics.md, observations.md) in {latest}/")
    for name, folder in json.loads((latest / "runs.json").read_text(encoding="utf-8")).items():
        print(f"[experiments] {name:9} run folder {folder}/")
    print("\n" + (latest / "metrics.md").read_text(encoding="utf-8") + "\n" + (latest / "observations.md").read_text(encoding="utf-8"))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
