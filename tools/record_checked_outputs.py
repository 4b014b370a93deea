"""Run notebooks in smoke mode and store what their checked cells print, for nbval to compare.

    .venv/bin/python tools/record_checked_outputs.py [notebooks/00_baseline.ipynb ...]   (default: all)

A checked cell (first line `# NBVAL_CHECK_OUTPUT`) keeps its text outputs (streams, and the
text of displays: markdown and plain; pictures are not compared by nbval and are dropped) with
the execution count Run All gives it; every other cell is stored empty, as tests/test_notebooks.py
requires. Run it after a change that moves a checked number, then look at the diff: each moved
number should be one the change meant to move. Set CPU paths as `make test` does (the numbers
must be the same on both: `make test CPU=avx2` checks).
"""
import os
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient

ROOT = Path(__file__).resolve().parents[1]
CHECK = "# NBVAL_CHECK_OUTPUT"
KEEP = ("text/markdown", "text/plain")


def kept(output):
    """The parts of an output nbval compares: streams on stdout, and the text of a display (markdown,
    plain: a figure's '<Figure size ...>' too); pictures, which nbval skips, are dropped."""
    if output.output_type == "stream":
        return output if output.name == "stdout" else None
    if output.output_type in ("display_data", "execute_result"):
        data = {k: v for k, v in output.data.items() if k in KEEP}
        return nbformat.from_dict({**output, "data": data, "metadata": {}}) if data else None
    return None


def record(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    run = nbformat.read(path, as_version=4)
    NotebookClient(run, timeout=1200, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}}).execute()
    position = 0
    for stored, done in zip(book.cells, run.cells):
        if stored.cell_type != "code":
            continue
        position += 1
        if stored.source.startswith(CHECK):
            stored.outputs = [o for o in map(kept, done.outputs) if o is not None]
            stored.execution_count = position
        else:
            stored.outputs, stored.execution_count = [], None
    path.write_text(nbformat.writes(book) + "\n")
    print(f"{path.name}: {sum(c.cell_type == 'code' and c.source.startswith(CHECK) for c in book.cells)} checked cells stored")


def main(argv):
    os.environ.update(NST_SMOKE="1", MPLBACKEND="Agg", OMP_NUM_THREADS="2")   # as make test runs them
    for path in [Path(p).resolve() for p in argv] or sorted((ROOT / "notebooks").glob("*.ipynb")):
        record(path)


if __name__ == "__main__":
    main(sys.argv[1:])
