"""A video's run folder, outputs/video/<timestamp>-<id>/, written as the frames finish:

    config.json      the settings, from the start (a resume reads them); at the end the results too
    frames/00000.png the stylised frames, each written atomically as it finishes
    plain/00000.png  with compare: the same frames stylised one by one, without the temporal loss
    frames.csv       one row per finished frame: seconds, steps, warping error of each pass
    frames/NNNNN.pt  the last finished frame as floats, so that a resumed video goes on bit for bit
    stylised.mp4, side_by_side.mp4 (input | plain | temporal, with compare), flicker.png
    DONE             last: the folder is complete (runs/folders.py's rule)

A frame is finished when its row is in frames.csv (written after its pictures); a resume starts at
the first frame without one.
"""
import csv
import io
import json
from pathlib import Path

import torch

from ..core.images import load_image, save_image
from ..runs import folders, lock
from . import clips

ROWS = "frames.csv"
FIELDS = ("frame", "seconds", "steps", "warping_error", "plain_seconds", "plain_steps", "plain_warping_error")
MAIN, PLAIN = "frames", "plain"   # the passes' sub-folders


def frame_png(folder, pass_dir: str, t: int) -> Path:
    return Path(folder) / pass_dir / f"{t:05d}.png"


def frame_pt(folder, pass_dir: str, t: int) -> Path:
    return Path(folder) / pass_dir / f"{t:05d}.pt"


def save_frame(folder, pass_dir: str, t: int, image: torch.Tensor) -> None:
    """Frame t's picture and its floats (1, 3, H, W), each atomically."""
    save_image(image, frame_png(folder, pass_dir, t))
    folders.save_tensors(frame_pt(folder, pass_dir, t), image.detach().cpu())


def load_frame(folder, pass_dir: str, t: int) -> torch.Tensor:
    """Frame t's floats as saved, or (an older folder's) its PNG."""
    pt = frame_pt(folder, pass_dir, t)
    if pt.is_file():
        return torch.load(pt, weights_only=True)
    return load_image(frame_png(folder, pass_dir, t))


def read_rows(folder) -> list[dict]:
    """frames.csv's rows with numbers (an empty field: None); [] before the first frame."""
    path = Path(folder) / ROWS
    if not path.is_file():
        return []
    with open(path, newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    return [{k: (None if v in ("", None) else int(v) if k.endswith("steps") or k == "frame" else float(v))
             for k, v in r.items()} for r in rows]


def write_rows(folder, rows: list) -> None:
    """frames.csv, rewritten whole and atomically (a frame's row is there or not, never half)."""
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(rows)
    folders.write_text(Path(folder) / ROWS, text.getvalue())


def forget_floats(folder, t: int) -> None:
    """Frame t's .pt files, once frame t + 1 is finished (only the last one is needed to go on)."""
    for pass_dir in (MAIN, PLAIN):
        frame_pt(folder, pass_dir, t).unlink(missing_ok=True)


def write_settings(folder, settings: dict) -> None:
    folders.write_text(Path(folder) / "config.json", json.dumps(settings, indent=2))


def read_settings(folder) -> dict:
    path = Path(folder) / "config.json"
    if folders.is_complete(folder):
        raise ValueError(f"{folder} is a finished video (it has its {folders.DONE} file); nothing to resume: "
                         "start a new one instead")
    try:
        settings = json.loads(path.read_text(encoding="utf-8"))
        settings["clip"], settings["config"]  # noqa: B018: a video's config.json has both
    except (OSError, ValueError, KeyError, TypeError):
        raise ValueError(f"{folder} is not an unfinished video's folder (no readable config.json with the "
                         "video's settings); pass the folder a video run printed") from None
    return settings


def flicker_figure(rows: list, temporal_weight: float, title: str = "flicker: warping error per frame"):
    """The warping error of each frame against the one before, per pass (a matplotlib Figure; log
    scale: the temporal loss takes it down by orders of magnitude)."""
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator
    fig = Figure(figsize=(7, 3.2), layout="constrained")
    ax = fig.subplots()
    main = f"temporal loss, weight {temporal_weight:g}" if temporal_weight else "frame by frame"
    for key, label in (("plain_warping_error", "frame by frame"), ("warping_error", main)):
        points = [(r["frame"], r[key]) for r in rows if r.get(key) is not None]
        if points:
            ax.plot(*zip(*points), marker="o", label=label)
    if ax.lines:   # one frame has no pair to measure
        ax.set_yscale("log")
        ax.legend()
    ax.set_xlabel("frame")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))   # frames are whole: no tick at frame 1.25
    ax.set_ylabel("warping error (masked MSE)")
    ax.set_title(title)
    return fig


def _side_by_side(folder, settings: dict, n: int):
    """(1, 3, h, 3w) frames: input | plain | temporal, the input read again from the clip."""
    inputs = clips.read_frames(settings["clip"], settings["config"]["size"], n, settings["start"])
    for t, frame in enumerate(inputs):
        yield torch.cat([frame, load_image(frame_png(folder, PLAIN, t)), load_image(frame_png(folder, MAIN, t))], -1)


def finish(folder, settings: dict, rows: list, results: dict) -> None:
    """The videos, the flicker plot, config.json with the results, then DONE; then tidy up."""
    folder, n, fps = Path(folder), len(rows), settings["fps"]
    clips.write_clip((load_image(frame_png(folder, MAIN, t)) for t in range(n)), folder / "stylised.mp4", fps)
    if settings["compare"]:
        clips.write_clip(_side_by_side(folder, settings, n), folder / "side_by_side.mp4", fps)
    folders.save_figure(flicker_figure(rows, settings["temporal_weight"]), folder / "flicker.png")
    write_settings(folder, {**settings, **results})
    folders.mark_complete(folder)
    # after DONE, as runs/folders.py does: the floats, the bytes of writes a kill cut short, the lock file
    for leftover in [*folder.glob(f"{MAIN}/*.pt"), *folder.glob(f"{PLAIN}/*.pt"), *folder.rglob(".*.tmp*"),
                     folder / lock.LOCK]:
        leftover.unlink(missing_ok=True)
