"""What a grid shows at the end: a contact sheet (rows and columns from two of its axes) and a
metrics table (CSV and Markdown) of every finished cell, from each cell's metrics.json
(runs.metrics, measured on the worker with the cell's own backbone, on its saved final.png)."""
import csv
import io
import itertools
from pathlib import Path

from ..runs import folders, metrics
from . import store


def sheet_axes(grid) -> tuple[str, str | None]:
    """(rows, columns): the grid's `sheet` choice, else its first two axes with more than one value."""
    dims = grid.dimensions()
    varying = [a for a, v in dims.items() if len(v) > 1] or ["preset"]
    rows = grid.sheet.get("rows", varying[0])
    rest = [a for a in varying if a != rows]
    return rows, grid.sheet.get("columns", rest[0] if rest else None)


def pages(grid, cells) -> dict:
    """{page label: {(row label, column label): cell}}: one page per combination of the other axes."""
    rows, cols = sheet_axes(grid)
    dims = grid.dimensions()
    others = [a for a, v in dims.items() if len(v) > 1 and a not in (rows, cols)]
    out = {}
    for combo in itertools.product(*(list(dims[a]) for a in others)):
        page = "__".join(f"{a}-{v}" for a, v in zip(others, combo))
        out[page] = {(c.labels[rows], c.labels[cols] if cols else ""): c for c in cells
                     if all(c.labels[a] == v for a, v in zip(others, combo))}
    return out


def contact_sheet(grid, cells, root: Path, page: dict, title: str = ""):
    """A Figure: rows x columns of the cells' final images, labelled by their values; a cell not
    finished is an empty panel saying so."""
    from matplotlib.figure import Figure
    from PIL import Image
    rows, cols = sheet_axes(grid)
    dims = grid.dimensions()
    row_labels, col_labels = list(dims[rows]), list(dims[cols]) if cols else [""]
    fig = Figure(figsize=(2.6 * len(col_labels) + 0.6, 2.6 * len(row_labels) + 0.6), layout="constrained")
    axes = fig.subplots(len(row_labels), len(col_labels), squeeze=False)
    for (i, r), (j, c) in itertools.product(enumerate(row_labels), enumerate(col_labels)):
        ax, cell = axes[i][j], page.get((r, c))
        ax.set_xticks([])
        ax.set_yticks([])
        if cell is not None and store.is_done(root, cell):
            with Image.open(store.cell_dir(root, cell.name) / "final.png") as img:
                ax.imshow(img.convert("RGB"))
        else:
            ax.text(0.5, 0.5, "not finished" if cell is not None else "", ha="center", va="center")
        if i == 0 and cols:
            ax.set_title(f"{cols} {c}", fontsize="small")
        if j == 0:
            ax.set_ylabel(f"{rows} {r}", fontsize="small")
    fig.suptitle(title or f"grid {grid.name}")
    return fig


def metrics_rows(grid, cells, root: Path) -> list[dict]:
    """One row per finished cell: its axes' labels, then every metric."""
    varying = [a for a, v in grid.dimensions().items() if len(v) > 1]
    out = []
    for c in cells:
        measured = store.read_metrics(root, c.name)
        if measured is not None:
            out.append({"cell": c.name, **{a: c.labels[a] for a in varying}, **measured})
    return out


def _fmt(v, digits: int = 3) -> str:
    return f"{v:.{digits}g}" if isinstance(v, float) else str(v)


def metrics_markdown(rows: list[dict], digits: int = 3) -> str:
    """The rows as a Markdown table, numbers to `digits` significant figures; the header says what
    a higher value means."""
    if not rows:
        return "(no finished cells)"
    keys = [k for k in rows[0] if k != "cell"]
    label = {k: metrics.METRICS[k][0] if k in metrics.METRICS else k for k in keys}
    means = {k: metrics.METRICS[k][1] if k in metrics.METRICS else "" for k in keys}
    lines = ["| " + " | ".join(label[k] for k in keys) + " |", "|---" * len(keys) + "|",
             "| " + " | ".join(("higher = " + means[k]) if means[k] else "" for k in keys) + " |"]
    lines += ["| " + " | ".join(_fmt(r[k], digits) for k in keys) + " |" for r in rows]
    return "\n".join(lines)


def write_summary(grid, cells, root: Path) -> dict:
    """sheet.png (sheet-<page>.png when other axes vary too), metrics.csv and metrics.md in the
    grid's folder; {what: path}. Nothing when no cell has finished."""
    rows = metrics_rows(grid, cells, root)
    if not rows:
        return {}
    out = {}
    for page, where in pages(grid, cells).items():
        path = root / (f"sheet-{page}.png" if page else "sheet.png")
        folders.save_figure(contact_sheet(grid, cells, root, where, f"grid {grid.name} {page}".strip()), path)
        out["sheet" if not page else f"sheet {page}"] = path
    table = io.StringIO(newline="")
    writer = csv.DictWriter(table, fieldnames=list(rows[0]))
    writer.writeheader()
    writer.writerows(rows)
    out["metrics_csv"] = folders.write_text(root / "metrics.csv", table.getvalue())
    out["metrics_md"] = folders.write_text(root / "metrics.md", metrics_markdown(rows) + "\n")
    return out
