"""The seed's experiment matrix as runs: the latest matching run of a preset (or a new one),
the metrics table, the seed's observations checked against the measurements, and the
comparison folder. `make experiments` (notebook/execute.py) runs notebooks 00-04 over this.
`settings` objects come from nst_helpers.notebook.settings (anything with .config(name),
.labels(), .outputs, .recipe, .content and .style works).
"""
import csv
import io
import json
import math
from pathlib import Path

from ..core import transfer
from ..core.progress import progress_bar
from ..grid import store
from ..runs import folders
from ..runs import metrics

EXPERIMENTS = ("baseline", "exp1", "exp2", "exp3")
EXPERIMENTS_GRID = "experiments"             # make experiments' grid: <outputs>/experiments/<cell>/ (notebook/grid.py)
GOOD_ENDINGS = ("completed", "early_stop")   # a stopped or diverged run is never re-used
TOL = 0.02                                   # relative difference below which two values count as equal

# The seed's expectation per preset, and the measurements that would support it:
# (metric, "higher" | "lower" than the baseline, or "between" the experiments' extremes).
OBSERVATIONS = {
    "baseline": ("moderate style transfer", [("gram_distance", "between"), ("ssim", "between")]),
    "exp1": ("more prominent style artifacts", [("hf_energy", "higher"), ("tv", "higher")]),
    "exp2": ("subtle content preservation", [("ssim", "lower"), ("content_distance", "higher")]),
    "exp3": ("more content details", [("ssim", "higher"), ("content_distance", "lower")]),
}


def save_result(result, s) -> Path:
    """Save a TransferResult as a run folder under s.outputs, recording the image paths and recipe."""
    return folders.save_run(result, root=s.outputs, extra={**s.labels(), "recipe": s.recipe})


def find_latest(s, name: str, backbone_name: str) -> Path | None:
    """The newest finished run of preset `name` whose settings, images and backbone match `s`
    (complete folders only: an interrupted save is never re-used, see runs)."""
    cfg = s.config(name)
    match = dict(config=cfg.to_dict(), backbone=backbone_name, recipe=s.recipe, **s.labels())
    # the notebooks' own runs, then the cells of make experiments' grid (notebook/grid.py)
    for folder in (folders.find_runs(cfg.name, s.outputs, **match)
                   + folders.matching(store.finished(s.outputs / EXPERIMENTS_GRID), **match)):
        if json.loads((folder / "config.json").read_text(encoding="utf-8")).get("stop_reason") in GOOD_ENDINGS:
            return folder
    return None


def latest_or_run(s, name: str, backbone, progress: bool = True, device=None) -> dict:
    """load_run() of the latest matching run of preset `name`, running (and saving) it on
    `device` (None: the best available) if none exists; the dict gains "reused": True/False."""
    folder = find_latest(s, name, backbone.name)
    reused = folder is not None
    if not reused:
        result = transfer.run(s.content, s.style, s.config(name), backbone=backbone, device=device,
                              progress=progress)
        folder = save_result(result, s)
    run = folders.load_run(folder)
    run["reused"] = reused
    print(f"{name}: {'re-used' if reused else 'ran and saved'} {folder}")
    return run


def measure_runs(loaded: dict, backbone, references: bool = True, progress: bool = True) -> dict:
    """{label: metrics.measure(...)} for loaded runs {name: load_run dict}, measured on the saved
    PNGs; with references, the content photo and the style image are measured as if they were results.
    The images may be on any device: the metrics move them to the backbone's, never the backbone.
    progress: a bar (core.progress: tqdm in a notebook, plain lines in a log), one tick an image,
    as each takes seconds at 512 px."""
    jobs = [(name, r["image"], r["content"], r["style"], r["history"]) for name, r in loaded.items()]
    if references and loaded:
        any_run = next(iter(loaded.values()))
        c, st = any_run["content"], any_run["style"]
        jobs += [("(content photo)", c, c, st, None), ("(style image)", st, c, st, None)]
    bar = progress_bar(total=len(jobs), desc="measuring", unit="image") if progress and jobs else None
    rows = {}
    for name, image, content, style, history in jobs:
        if bar is not None:
            bar.set_postfix(now=name)
        rows[name] = metrics.measure(image, content, style, backbone, history)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.set_postfix()   # done: no image is being measured now
        bar.close()
    return rows


def _fmt(v: float, digits: int = 3) -> str:
    return "n/a" if v is None or (isinstance(v, float) and math.isnan(v)) else f"{v:.{digits}g}"


def metrics_markdown(rows: dict, digits: int = 3) -> str:
    """A markdown table: one row per run, one column per metric (header says what higher means),
    each value to `digits` significant figures (2 in a notebook's checked cell: notebook/numbers.py)."""
    keys = list(metrics.METRICS)
    head = "| run | " + " | ".join(metrics.METRICS[k][0] for k in keys) + " |"
    means = "| higher = | " + " | ".join(metrics.METRICS[k][1] for k in keys) + " |"
    sep = "|---" * (len(keys) + 1) + "|"
    body = ["| " + name + " | " + " | ".join(_fmt(m[k], digits) for k in keys) + " |" for name, m in rows.items()]
    return "\n".join([head, sep, means, *body])


def _test(rows: dict, name: str, key: str, how: str) -> tuple[bool, str]:
    v, label = rows[name][key], metrics.METRICS[key][0]
    if how == "between":
        others = [rows[n][key] for n in EXPERIMENTS if n != name and n in rows]
        ok = min(others) < v < max(others)
        return ok, f"{label} {_fmt(v, 2)} {'inside' if ok else 'outside'} the experiments' range {_fmt(min(others), 2)}..{_fmt(max(others), 2)}"
    base = rows["baseline"][key]
    diff = v - base
    ok = diff > TOL * abs(base) if how == "higher" else diff < -TOL * abs(base)
    return ok, f"{label} {_fmt(v, 2)} vs baseline {_fmt(base, 2)} ({how}: {'yes' if ok else 'no'})"


def observations(rows: dict, names=tuple(OBSERVATIONS)) -> list[dict]:
    """The seed observations of presets `names` checked against metric rows {preset: metrics}:
    [{preset, claim, verdict, evidence}]. verdict: 'supported' (every test holds), 'partly
    supported' (some), 'not supported' (none), 'not measured' (runs missing)."""
    out = []
    for name in names:
        claim, tests = OBSERVATIONS[name]
        others = [n for n in EXPERIMENTS if n != name and n in rows]
        if name not in rows or "baseline" not in rows or (name == "baseline" and len(others) < 2):
            out.append({"preset": name, "claim": claim, "verdict": "not measured", "evidence": ""})
            continue
        results = [_test(rows, name, key, how) for key, how in tests]
        held = sum(ok for ok, _ in results)
        verdict = "supported" if held == len(results) else "partly supported" if held else "not supported"
        out.append({"preset": name, "claim": claim, "verdict": verdict,
                    "evidence": "; ".join(text for _, text in results)})
    return out


def observations_markdown(obs: list) -> str:
    lines = ["| preset | seed's observation | verdict | measurements |", "|---|---|---|---|"]
    lines += [f"| {o['preset']} | {o['claim']} | **{o['verdict']}** | {o['evidence']} |" for o in obs]
    return "\n".join(lines)


def save_comparison(s, loaded: dict, rows: dict, obs: list, figures: dict) -> Path:
    """Write a comparison folder <outputs>/comparison/<stamp>/: the figures as PNG, metrics.md,
    metrics.csv, observations.md and runs.json (which run folder each preset came from); each
    file atomically, and the DONE marker last, as in a run folder."""
    folder = folders.new_run_dir("comparison", s.outputs)
    for name, fig in figures.items():
        folders.save_figure(fig, folder / f"{name}.png")
    folders.write_text(folder / "metrics.md", metrics_markdown(rows) + "\n")
    folders.write_text(folder / "observations.md", observations_markdown(obs) + "\n")
    table = io.StringIO(newline="")
    writer = csv.writer(table)
    writer.writerow(["run", *metrics.METRICS])
    writer.writerows([name, *(m[k] for k in metrics.METRICS)] for name, m in rows.items())
    folders.write_text(folder / "metrics.csv", table.getvalue())
    folders.write_text(folder / "runs.json", json.dumps({k: str(r["folder"]) for k, r in loaded.items()}, indent=2))
    folders.mark_complete(folder)
    return folder
