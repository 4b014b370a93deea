"""What notebook 09 (a grid of runs) and `make experiments` use: the grids they run, built from a
notebook's settings, and what they print of a grid.

    g = grid.sweep(s, style_weights=[1e5, 1e6], layer_weights={"seed": {...}, "deep": {...}})
    report = run_grid(g)           # nst_helpers.grid.run_grid
    grid.show_sheet(report)
"""
from ..grid import Grid
from ..grid import sheet as grid_sheet
from .compare import EXPERIMENTS_GRID
from .live import show_gif
from .numbers import DIGITS, sig

SWEEP = "09_sweep"          # notebook 09's grid: outputs/09_sweep/<cell>/
SMOKE_VALUES = 2            # NST_SMOKE=1: the first two values of each axis (a 2 x 2 grid)


def _base(s) -> dict:
    """The config fields every cell shares under settings `s`: backbone, and size and steps when given;
    in smoke mode also the smoke run's float32 pyramid (settings.smoke_config), as the notebooks' runs."""
    base = {"backbone": s.backbone, **{k: v for k, v in (("size", s.size), ("steps", s.steps)) if v is not None}}
    if s.smoke:
        cfg = s.config()
        base.update(mixed_precision=False, scales=cfg.scales, scale_steps=cfg.scale_steps)
    return base


def _grid(s, name: str, presets: list, axes: dict, sheet: dict) -> Grid:
    from .settings import project_root
    return Grid(name, contents=[s.content], styles=[s.style], presets=presets, recipe="fast" if s.recipe == "fast" else None,
                base=_base(s), axes=axes, sheet=sheet, root=project_root(), labels={"recipe": s.recipe, **s.labels()})


def sweep(s, style_weights: list, layer_weights: dict) -> Grid:
    """Style weight x layer weights of preset s.preset on s's pair (in smoke mode the first two of each)."""
    n = SMOKE_VALUES if s.smoke else None
    axes = {"style_weight": list(style_weights)[:n], "style_layers": dict(list(layer_weights.items())[:n])}
    return _grid(s, SWEEP, [s.preset], axes, {"rows": "style_weight", "columns": "style_layers"})


def experiments(s, presets=("baseline", "exp1", "exp2", "exp3")) -> Grid:
    """The seed's experiment matrix as a grid: each preset under s's recipe, size and steps; its cells'
    configs and labels are those notebook.compare.find_latest looks for, so notebooks 01-04 re-use them."""
    return _grid(s, EXPERIMENTS_GRID, list(presets), {}, {})


def describe(g: Grid) -> str:
    """The grid in three lines: its axes and cells, the sheet's rows and columns, how long it takes."""
    dims = {a: list(v) for a, v in g.dimensions().items() if len(v) > 1}
    axes = " x ".join(f"{a} ({', '.join(v)})" for a, v in dims.items()) or "one cell"
    return (f"grid {g.name}: {axes} = {len(g.cells())} cells\n"
            f"rows {' and columns '.join(filter(None, grid_sheet.sheet_axes(g)))}\n{time_note(g)}")


def time_note(g: Grid) -> str:
    """runs/duration.py's estimate for every cell, added up: on a CPU the workers share its cores,
    so the grid takes about as long as its runs one after another (benchmarks/grid.py: less)."""
    from PIL import Image
    from ..core import plan
    from ..core.devices import pick_device
    from ..runs import duration
    device, total = str(g.device or pick_device()), 0.0
    for cell in g.cells():
        with Image.open(cell.content) as img:
            hw = plan.level_shape(img.size[::-1], cell.config.size, max(img.size))
        total += duration.estimate(cell.config, None, device, hw)
    n = len(g.cells())
    return f"time: about {duration.in_words(total)} for the {n} cell{'s' * (n != 1)} here (runs/duration.py's estimates, added)"


def layer_table(layer_weights: dict) -> str:
    """The layer weightings as a fixed-width table: one row each, one column per style layer."""
    layers = sorted({layer for w in layer_weights.values() for layer in w})
    lines = [f"{'weights':10}" + "".join(f"{name:>9}" for name in layers)]
    lines += [f"{label:10}" + "".join(f"{w.get(name, 0):>9g}" for name in layers) for label, w in layer_weights.items()]
    return "\n".join(lines)


def show_sheet(report, key: str = "sheet") -> None:
    """Display the grid's contact sheet (the PNG it wrote)."""
    show_gif(report.outputs[key])


def _metrics_rows(report) -> list[dict]:
    """The grid's metrics.csv back as rows, numbers as floats."""
    import csv

    def typed(v):
        try:
            return float(v)
        except ValueError:
            return v
    with open(report.folder / "metrics.csv", newline="", encoding="utf-8") as f:
        return [{k: typed(v) if k != "cell" else v for k, v in r.items()} for r in csv.DictReader(f)]


def metrics_markdown(report) -> str:
    """The grid's metrics table, each number to two significant figures (notebook/numbers.py)."""
    return grid_sheet.metrics_markdown(_metrics_rows(report), digits=DIGITS)


def reading(report) -> str:
    """Which cell took the most style (lowest Gram distance) and which kept the most of the photo
    (highest luminance SSIM), from the grid's metrics."""
    rows = _metrics_rows(report)
    style = min(rows, key=lambda r: r["gram_distance"])
    photo = max(rows, key=lambda r: r["ssim"])
    return (f"most style (lowest Gram distance, {sig(style['gram_distance'])}): {style['cell']}\n"
            f"most of the photo (highest SSIM, {sig(photo['ssim'])}): {photo['cell']}")


def history(report, cell: str) -> list[dict]:
    """One cell's history (its run folder's history.csv)."""
    from ..runs.folders import read_history
    return read_history(report.folder / cell)
