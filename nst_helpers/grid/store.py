"""The grid's folder on the client: outputs/<grid>/<cell>/ run folders, each written whole or not at all.

A cell's files arrive as bytes (task.py). They go into a hidden `.<cell>.partial-<hex>/` folder,
which is renamed to `<cell>/` once every file is in it: a client killed half-way leaves only a
partial folder, which the next run removes, never a `<cell>/` without its DONE. A cell is
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

from ..runs import folders

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


def finished(root: Path) -> list[Path]:
    """The grid's complete cell folders, the most recently finished first."""
    root = Path(root)
    cells = [p for p in root.iterdir() if p.is_dir() and folders.is_complete(p)] if root.is_dir() else []
    return sorted(cells, key=lambda p: (p / folders.DONE).stat().st_mtime_ns, reverse=True)


def tidy(root: Path) -> list[Path]:
    """Remove what a killed client left: partial folders, and cell folders without DONE."""
    root, removed = Path(root), []
    if not root.is_dir():
        return removed
    for p in root.iterdir():
        if p.is_dir() and (PARTIAL in p.name or (not folders.is_complete(p) and (p / "config.json").exists())):
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
        with open(partial / folders.DONE, "rb") as fh:   # no DONE, no result
            os.fsync(fh.fileno())
        final = cell_dir(root, cell)
        if final.exists():   # an incomplete leftover, or a cell made from other settings or images
            shutil.rmtree(final)
        os.rename(partial, final)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    return final


def write_failures(root: Path, failed: dict) -> Path | None:
    """failed.json: {cell: error} of this run's failures (removed when none failed)."""
    path = Path(root) / FAILED
    if not failed:
        path.unlink(missing_ok=True)
        return None
    return folders.write_text(path, json.dumps(failed, indent=2) + "\n")


def read_metrics(root: Path, cell: str) -> dict | None:
    """A finished cell's metrics.json, or None."""
    try:
        return json.loads((cell_dir(root, cell) / "metrics.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
