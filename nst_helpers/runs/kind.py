"""Whose is a folder under --out: a kind marker, the file KIND, in each folder a command makes for
a video, a training or a grid's cell (its one line: the kind).

Commands share --out: `python -m nst_helpers grid video.yaml` keeps its cells in OUT/video/, where
the video command keeps its run folders, and `train.yaml` shares OUT/train/ with trainings. A
command tidies or replaces only folders of its own kind (grid/store.py), never another's
unfinished, resumable work. A picture run's folder has no marker: nothing tidies those.
"""
from pathlib import Path

KIND = "KIND"
GRID_CELL, VIDEO, TRAINING = "grid-cell", "video", "training"


def mark(folder, kind: str) -> Path:
    """Write the marker (atomically: runs.folders.write_text) into `folder`, made by a command of `kind`."""
    from .folders import write_text   # late: folders loads torch, and the grid's client needs none for this
    return write_text(Path(folder) / KIND, kind + "\n")


def of(folder) -> str | None:
    """The kind `folder` was marked with, or None (no marker, or not readable)."""
    try:
        with open(Path(folder) / KIND, encoding="utf-8", errors="replace") as fh:
            return fh.read(64).strip() or None
    except OSError:
        return None
