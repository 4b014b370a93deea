"""Run folders: outputs/<name>/<timestamp>-<short id>/ with everything a run produced.

A folder is never overwritten (mkdir with exist_ok=False and a random id), so
re-running a notebook keeps older results for comparison.

Crash safety: every file is written under a hidden temporary name in its folder and renamed
into place (core.files.atomic_file), so a file with its final name is always whole. A folder is
*complete* only when its marker file DONE exists; save_run writes DONE after every other
file. A folder without DONE (a save killed half-way, a run that never finished) is
incomplete: is_complete() says so, find_runs() skips it, load_run() refuses it with a clear
error, and notebook.compare.latest_or_run never re-uses it. Folders written before this rule
existed have no DONE either and are skipped the same way.

A run that keeps checkpoints (checkpoint.py: the command line's) writes into its folder from
its start: checkpoint.pt and a RESUMABLE note, and when interrupted latest.png, history.csv and
snapshots/. Such a folder is incomplete but resumable (load_run says how); save_run(result,
folder=...) completes it, writes final.pt (the float image) and, after DONE, removes the checkpoint,
its note, its snapshots (checkpoint-snapshots/) and latest.png.

One process writes into a folder at a time (lock.py: a run, a resume, save_run), and save_run
completes only its own run's folder. A write that fails (a full disk, a read-only file system, a
vanished folder) is one StorageError line naming the file, what is kept and how to go on.
"""
import csv
import io
import json
import platform
import re
import secrets
import shutil
import time
from importlib import metadata
from pathlib import Path

import torch

from ..core.config import StyleConfig
from ..core.files import atomic_file
from ..core.images import load_image, resize_to, save_image
from ..core.storage import StorageError, resumable
from . import lock

HISTORY_FIELDS = ("step", "total", "content", "style", "tv", "lr", "elapsed", "size", "event")
DONE = "DONE"  # the completion marker, always the last file written into a run folder
CHECKPOINT = "checkpoint.pt"  # an unfinished run's state (checkpoint.py)
RESUMABLE = "RESUMABLE"       # the note beside it: how to finish the run
LATEST = "latest.png"         # an interrupted run's latest image
SNAPSHOT_DIR = "checkpoint-snapshots"  # the checkpoint's snapshots, one file each (checkpoint.py)


class IncompleteRunError(ValueError):
    """A run folder without its DONE marker: its save was interrupted (or is still going)."""


def library_versions() -> dict:
    out = {"python": platform.python_version()}
    for pkg in ("torch", "torchvision", "numpy", "pillow", "matplotlib", "nst-helpers"):
        try:
            out[pkg] = metadata.version(pkg)
        except metadata.PackageNotFoundError:
            out[pkg] = None
    return out


def new_run_dir(name: str, root="outputs") -> Path:
    """A fresh folder root/name/YYYYmmdd-HHMMSS-<6 hex>/ (never an existing one)."""
    path = Path(root) / name / f"{time.strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"
    path.mkdir(parents=True, exist_ok=False)
    return path


def write_text(path, text: str) -> Path:
    """Write a text file atomically (temporary name, then rename), in UTF-8 whatever the locale: a
    run folder's notes name paths, and an ASCII locale must not fail on a non-ASCII one (such a
    locale hands Python a path's other bytes as surrogates: written back as those bytes)."""
    with atomic_file(path) as tmp:
        Path(tmp).write_text(text, encoding="utf-8", errors="surrogateescape")
    return Path(path)


def save_tensors(path, obj) -> Path:
    """torch.save, atomically; serialised in memory first, so that a full disk is an OSError with
    its errno (torch's own writer says only 'RuntimeError: ... file write failed')."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    with atomic_file(path) as tmp:
        Path(tmp).write_bytes(buffer.getbuffer())
    return Path(path)


def save_figure(fig, path, dpi: int = 100) -> Path:
    """Save a matplotlib Figure atomically, in the format its suffix names."""
    with atomic_file(path) as tmp:
        fig.savefig(tmp, dpi=dpi, format=Path(path).suffix[1:])
    return Path(path)


def mark_complete(folder) -> Path:
    """Write the DONE marker: call it last, after every other file of the folder is in place."""
    return write_text(Path(folder) / DONE, f"complete {time.strftime('%Y-%m-%d %H:%M:%S')}\n")


def is_complete(folder) -> bool:
    """True when `folder` is a finished run (or comparison) folder: its DONE marker exists."""
    return (Path(folder) / DONE).is_file()


def write_history(folder, history: list) -> Path:
    """history.csv: one row per step, the HISTORY_FIELDS columns."""
    rows = io.StringIO(newline="")
    writer = csv.DictWriter(rows, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    return write_text(Path(folder) / "history.csv", rows.getvalue())


def write_snapshots(folder, snapshots: dict) -> None:
    """snapshots/step_00025.png ... for {step: (1, 3, h, w) image}."""
    (Path(folder) / "snapshots").mkdir(exist_ok=True)  # an interrupted run's may exist: same steps, same images
    for step, image in sorted(snapshots.items()):
        save_image(image, Path(folder) / "snapshots" / f"step_{step:05d}.png")


def kept_step(folder) -> int | None:
    """The step of the checkpoint in `folder`, as its RESUMABLE note says, or None (no checkpoint)."""
    folder = Path(folder)
    try:
        text = (folder / RESUMABLE).read_text(encoding="utf-8", errors="replace")
    except OSError:
        return None
    found = re.search(r"is at step (\d+) of", text)
    return int(found.group(1)) if found and (folder / CHECKPOINT).is_file() else None




def save_run(result, root="outputs", name: str | None = None, extra: dict | None = None, folder=None) -> Path:
    """Write config.json, history.csv, snapshots/, final.png, content.png, style.png (masks.png),
    comparison.png, loss.png, progress.gif, and last the DONE marker (see the module docstring).

    folder: the unfinished folder of this result's own run (result.folder, a checkpointed run's)
    to complete instead of a new one under root/name; it also gets final.pt, and loses its
    checkpoint after DONE. Another run's folder is refused, and so is one another process is
    writing into (lock.py). A failed write is one StorageError line: what is kept, how to go on."""
    if folder is None:
        new, folder = True, new_run_dir(name or result.config.name, root)
    else:
        new, folder = False, Path(folder)
        _check_own_folder(result, folder)
    with lock.hold(folder):
        try:
            _write_run(result, folder, new, extra)
        except StorageError as err:
            raise resumable(err, folder, kept_step(folder), otherwise="save the result again (save_run: "
                            "it is still in memory)") from err
    return folder


def style_picture(result):
    """The style image, or several side by side at the first one's height (what was blended)."""
    styles = getattr(result, "styles", None) or [result.style]
    if len(styles) == 1:
        return styles[0]
    h = styles[0].shape[-2]
    return torch.cat([resize_to(s, (h, max(1, round(s.shape[-1] * h / s.shape[-2])))) for s in styles], dim=-1)


def _check_own_folder(result, folder: Path) -> None:
    """Refuse a folder save_run must not complete: not a folder, complete, or another run's."""
    if not folder.is_dir() or is_complete(folder):
        raise ValueError(f"{folder} is {'a complete run folder' if folder.is_dir() else 'not a folder'}; "
                         "a finished run is never overwritten: leave folder out to save into a new one")
    own = getattr(result, "folder", None)
    if (own is None or Path(own).resolve() != folder.resolve()) and any(
            p.name != lock.LOCK for p in folder.iterdir()):
        raise ValueError(f"{folder} holds another run's work, and save_run writes only into the folder of the "
                         f"run it saves ({own or 'this result kept no checkpoints'}); leave folder out to save "
                         "into a new one")


def _write_run(result, folder: Path, new: bool, extra: dict | None) -> None:
    from .plots import comparison_figure, loss_figure, save_gif  # late: matplotlib loads only when a run is saved
    cfg = result.config
    meta = {"config": cfg.to_dict(), "backbone": result.backbone, "weights": result.weights, "device": result.device,
            "stop_reason": result.stop_reason, "seconds": round(result.seconds, 3),
            "steps_done": len(result.history), "versions": library_versions(), **(extra or {})}
    write_text(folder / "config.json", json.dumps(meta, indent=2))
    write_history(folder, result.history)
    write_snapshots(folder, result.snapshots)
    save_image(result.image, folder / "final.png")
    if not new:  # the float result, as exact as the checkpoint was (final.png rounds to 8 bits)
        save_tensors(folder / "final.pt", result.image)
    save_image(result.content, folder / "content.png")
    save_image(style_picture(result), folder / "style.png")
    if getattr(result, "masks", None):   # the regions, side by side in the order of the styles
        save_image(torch.cat(result.masks, dim=-1).expand(-1, 3, -1, -1), folder / "masks.png")
    title = f"{cfg.name} on {result.backbone}, {len(result.history)} steps ({result.stop_reason})"
    save_figure(comparison_figure(result.content, style_picture(result), result.image, title=title),
                folder / "comparison.png")
    save_figure(loss_figure(result.history, cfg), folder / "loss.png")
    if result.snapshots:
        with atomic_file(folder / "progress.gif") as tmp:
            save_gif(result.snapshots, tmp)
    mark_complete(folder)
    # after DONE, so that a kill before it leaves the run resumable; .*.tmp*: the bytes of writes a kill cut short
    # and the lock file: a complete folder has no writer (a process that opens it now is refused as complete)
    for leftover in [folder / CHECKPOINT, folder / RESUMABLE, folder / LATEST, folder / lock.LOCK,
                     *folder.rglob(".*.tmp*")]:
        leftover.unlink(missing_ok=True)
    shutil.rmtree(folder / SNAPSHOT_DIR, ignore_errors=True)


def read_history(folder) -> list[dict]:
    """history.csv back as dicts with numbers (event stays a string)."""
    with open(Path(folder) / "history.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in HISTORY_FIELDS:
            if k != "event":
                r[k] = int(r[k]) if k in ("step", "size") else float(r[k])
    return rows


def load_run(folder) -> dict:
    """A saved run as {folder, meta, config, history, image, content, style}.

    Raises IncompleteRunError for a folder without its DONE marker."""
    folder = Path(folder)
    if not is_complete(folder) and (folder / CHECKPOINT).is_file():
        raise IncompleteRunError(
            f"{folder} is an incomplete run folder: its run was interrupted and can be resumed (no {DONE} "
            f"file yet); finish it with `python -m nst_helpers --resume {folder}` (or nst_helpers.resume), "
            "then load it")
    if not is_complete(folder):
        raise IncompleteRunError(
            f"{folder} is an incomplete run folder (no {DONE} file: its save was interrupted or "
            "is still going); load a complete one (nst_helpers.runs.folders.find_runs lists them) or run again")
    meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
    return {"folder": folder, "meta": meta, "config": StyleConfig.from_dict(meta["config"]),
            "history": read_history(folder), "image": load_image(folder / "final.png"),
            "content": load_image(folder / "content.png"), "style": load_image(folder / "style.png")}


def complete_folders(parent) -> list[Path]:
    """The complete <timestamp>-<id> folders directly in `parent`, newest first."""
    return [f for f in sorted(Path(parent).glob("*-*"), reverse=True) if f.is_dir() and is_complete(f)]


def find_runs(name: str, root="outputs", **match) -> list[Path]:
    """Complete run folders of `name`, newest first, whose config.json has the given values
    (top-level keys like backbone=..., or config fields like steps=...). Incomplete folders
    and unreadable config.json files are skipped."""
    return matching(complete_folders(Path(root) / name), **match)


def matching(candidates, **match) -> list[Path]:
    """The folders among `candidates` (complete ones: a grid's cells, find_runs') whose config.json
    has the given values, in their order."""
    found = []
    for folder in candidates:
        try:
            meta = json.loads((folder / "config.json").read_text(encoding="utf-8"))
            matches = all(meta.get(k, meta["config"].get(k)) == v for k, v in match.items())
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            continue  # a hand-edited or foreign folder: not one of ours to re-use
        if matches:
            found.append(folder)
    return found
