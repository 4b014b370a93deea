"""Run folders: outputs/<name>/<timestamp>-<short id>/ with everything a run produced.

A folder is never overwritten (mkdir with exist_ok=False and a random id), so
re-running a notebook keeps older results for comparison.
"""
import csv
import json
import platform
import secrets
import time
from importlib import metadata
from pathlib import Path

from .config import StyleConfig
from .images import load_image, save_image
from .plots import comparison_figure, loss_figure, save_gif

HISTORY_FIELDS = ("step", "total", "content", "style", "tv", "lr", "elapsed", "size", "event")


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


def save_run(result, root="outputs", name: str | None = None, extra: dict | None = None) -> Path:
    """Write config.json, history.csv, snapshots/, final.png, comparison.png, loss.png, progress.gif."""
    cfg = result.config
    folder = new_run_dir(name or cfg.name, root)
    meta = {"config": cfg.to_dict(), "backbone": result.backbone, "device": result.device,
            "stop_reason": result.stop_reason, "seconds": round(result.seconds, 3),
            "steps_done": len(result.history), "versions": library_versions(), **(extra or {})}
    (folder / "config.json").write_text(json.dumps(meta, indent=2))
    with open(folder / "history.csv", "w", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=HISTORY_FIELDS, extrasaction="ignore")
        writer.writeheader()
        writer.writerows(result.history)
    (folder / "snapshots").mkdir()
    for step, image in sorted(result.snapshots.items()):
        save_image(image, folder / "snapshots" / f"step_{step:05d}.png")
    save_image(result.image, folder / "final.png")
    save_image(result.content, folder / "content.png")
    save_image(result.style, folder / "style.png")
    title = f"{cfg.name} on {result.backbone}, {len(result.history)} steps ({result.stop_reason})"
    comparison_figure(result.content, result.style, result.image, title=title).savefig(folder / "comparison.png", dpi=100)
    loss_figure(result.history, cfg).savefig(folder / "loss.png", dpi=100)
    if result.snapshots:
        save_gif(result.snapshots, folder / "progress.gif")
    return folder


def read_history(folder) -> list[dict]:
    """history.csv back as dicts with numbers (event stays a string)."""
    with open(Path(folder) / "history.csv", newline="") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        for k in HISTORY_FIELDS:
            if k != "event":
                r[k] = int(r[k]) if k in ("step", "size") else float(r[k])
    return rows


def load_run(folder) -> dict:
    """A saved run as {folder, meta, config, history, image, content, style}."""
    folder = Path(folder)
    meta = json.loads((folder / "config.json").read_text())
    return {"folder": folder, "meta": meta, "config": StyleConfig.from_dict(meta["config"]),
            "history": read_history(folder), "image": load_image(folder / "final.png"),
            "content": load_image(folder / "content.png"), "style": load_image(folder / "style.png")}


def find_runs(name: str, root="outputs", **match) -> list[Path]:
    """Complete run folders of `name`, newest first, whose config.json has the given values
    (top-level keys like backbone=..., or config fields like steps=...)."""
    found = []
    for folder in sorted((Path(root) / name).glob("*-*"), reverse=True):
        try:
            meta = json.loads((folder / "config.json").read_text())
        except (OSError, ValueError):
            continue
        if not (folder / "final.png").exists():
            continue
        if all(meta.get(k, meta["config"].get(k)) == v for k, v in match.items()):
            found.append(folder)
    return found
