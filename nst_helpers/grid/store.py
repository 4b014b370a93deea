"""The grid's folder on the client: outputs/<grid>/<cell>/ run folders, each written whole or not at all.

A cell's files arrive as bytes (task.py). They go into a hidden `.<cell>.partial-<hex>/` folder,
which is renamed to `<cell>/` once every file is in it: a client killed half-way leaves only a
partial folder, which the next run removes, never a `<cell>/` without its DONE. Each cell carries
the kind marker of a grid's cell (runs/kind.py): OUT/<grid>/ may also hold another command's run
folders (a grid named `video` shares OUT/video/ with the video command), and the grid tidies and
replaces only its own cells, never another command's unfinished, resumable work. A cell is
finished when its folder is complete (runs.folders.is_complete: the DONE marker) and was made from
the cell as it is now: the same config and the same image bytes. A grid rerun after its size, its
recipe or an image changed reruns those cells instead of taking the old pictures for new ones.
"""
import hashlib
import json
import os
import secrets
import shutil
from pathlib import Path

from ..runs import folders, kind

PARTIAL = ".partial-"
FAILED = "failed.json"   # the cells that failed last time, with their errors


def cell_dir(root: Path, cell: str) -> Path:
    return Path(root) / cell


def digest(path: Path) -> str:
    """The sha256 of a file's bytes (an image a cell reads)."""
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def identity(cell) -> dict:
    """What a cell's results depend on (a spec.Cell): its config as config.json stores it, and its
    images' digests; task.payload records the same in the folder."""
    return {"config": json.loads(json.dumps(cell.config.to_dict())),
            "content_sha256": digest(cell.content), "style_sha256": digest(cell.style)}


def is_done(root: Path, cell) -> bool:
    """Is `cell` (a spec.Cell) finished: its folder complete, from this config and these images?"""
    folder = cell_dir(root, cell.name)
    if not folders.is_complete(folder):
        return False
    try:
        saved = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return all(saved.get(key) == value for key, value in identity(cell).items())


def is_cell(folder: Path) -> bool:
    """Is `folder` (OUT/<grid>/<name>) a cell of its grid: its kind marker says so, or (a cell written
    before the markers) its config.json names this grid and this cell? Another command's folder is not."""
    folder = Path(folder)
    if (marked := kind.of(folder)) is not None:
        return marked == kind.GRID_CELL
    try:
        meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return isinstance(meta, dict) and meta.get("grid") == folder.parent.name and meta.get("cell") == folder.name


def finished(root: Path) -> list[Path]:
    """The grid's complete cell folders, the most recently finished first."""
    root = Path(root)
    cells = [p for p in root.iterdir() if p.is_dir() and folders.is_complete(p) and is_cell(p)] \
        if root.is_dir() else []
    return sorted(cells, key=lambda p: (p / folders.DONE).stat().st_mtime_ns, reverse=True)


def tidy(root: Path) -> list[Path]:
    """Remove what a killed client of this grid left: its partial folders, and its cells without DONE.
    Other commands' folders in root (an unfinished video or training, resumable) are left alone."""
    root, removed = Path(root), []
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        partial = p.name.startswith(".") and PARTIAL in p.name
        if p.is_dir() and (partial or (not folders.is_complete(p) and is_cell(p))):
            shutil.rmtree(p, ignore_errors=True)
            removed.append(p)
    return removed


def write_cell(root: Path, cell: str, files: dict) -> Path:
    """Write {relative path: bytes} as the folder root/cell, atomically (a rename of the whole folder)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    partial = root / f".{cell}{PARTIAL}{secrets.token_hex(3)}"
    partial.mkdir()
    try:
        for rel, data in files.items():
            target = partial / rel
            if target.resolve().parent != partial.resolve() and partial.resolve() not in target.resolve().parents:
                raise ValueError(f"a worker sent a file outside its folder: {rel!r}")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
        (partial / kind.KIND).write_text(kind.GRID_CELL + "\n", encoding="utf-8")   # renamed in with the rest
        with open(partial / folders.DONE, "rb") as fh:   # no DONE, no result
            os.fsync(fh.fileno())
        final = cell_dir(root, cell)
        if final.exists() and not is_cell(final):
            raise FileExistsError(f"{final} is another command's run folder, not a cell of grid {root.name}; it is "
                                  "kept: give the grid another name (name: in its file) or another --out")
        if final.exists():   # an incomplete leftover, or a cell made from other settings or images
            shutil.rmtree(final)
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def write_failures(root: Path, failed: dict) -> Path | None:
    """failed.json: {cell: error} of this run's failures (removed when none failed). The grid's
    folder is made if no cell finished: when every cell failed, their errors are what to show."""
    path = Path(root) / FAILED
    if not failed:
        path.unlink(missing_ok=True)
        return None
    Path(root).mkdir(parents=True, exist_ok=True)
    return folders.write_text(path, json.dumps(failed, indent=2) + "\n")


def read_metrics(root: Path, cell: str) -> dict | None:
    """A finished cell's metrics.json, or None."""
    try:
        return json.loads((cell_dir(root, cell) / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
