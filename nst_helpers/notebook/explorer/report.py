"""The explorer's report after a run, as HTML: the run's facts and final losses, and each quality
metric beside the photo's and the painting's own values, with a small bar that shows where the
result lies between the two. 'content distance 1.145' means little alone; between the photo's
0 and the painting's 1.4 it says the result has moved most of the way to the painting.

Metric names and their meanings come from runs.metrics.METRICS, whatever its keys are.
"""
import html

from ...runs import metrics as quality

BAR_PX = 90
PAD = " style='padding:2px 12px 2px 0;text-align:left'"  # the notebook's table style packs the columns tight


def _cell(value) -> str:
    return f"{value:.4g}" if isinstance(value, float) else html.escape(str(value))


def share(value: float, photo: float, painting: float) -> float | None:
    """Where `value` lies from the photo's value (0) to the painting's (1); None when the two
    ends are equal (no scale to place it on). Beyond either end it is below 0 or above 1."""
    if painting == photo:
        return None
    return (value - photo) / (painting - photo)


def bar(at: float | None) -> str:
    """A BAR_PX-wide bar from the photo (left) to the painting (right) with a mark at `at`
    (clamped to the bar, an arrow when beyond an end); empty for None."""
    if at is None:
        return ""
    inside = min(max(at, 0.0), 1.0)
    mark = "◀" if at < 0 else "▶" if at > 1 else ""
    left = round(inside * (BAR_PX - 4))
    tip = f"{at:.0%} of the way from the photo to the painting"
    return (f"<span class='nst-bar' title='{tip}' style='display:inline-block;position:relative;width:{BAR_PX}px;"
            "height:10px;background:linear-gradient(90deg,#9ecae1,#fdae6b);border-radius:3px;vertical-align:middle'>"
            f"<span style='position:absolute;left:{left}px;top:-3px;width:4px;height:16px;background:#222'></span>"
            f"</span>{mark}")


def metric_rows(values: dict, references: dict) -> list:
    """(label, result, photo, painting, bar, what higher means) for each measured metric."""
    photo, painting = references.get("photo", {}), references.get("painting", {})
    rows = []
    for key, value in values.items():
        label, meaning = quality.METRICS.get(key, (key, ""))
        p, q = photo.get(key), painting.get(key)
        ends = isinstance(value, float) and isinstance(p, float) and isinstance(q, float)
        rows.append((label, _cell(value), "" if p is None else _cell(p), "" if q is None else _cell(q),
                     bar(share(value, p, q)) if ends else "", html.escape(meaning)))
    return rows


def ended_words(reason: str, done: int, planned: int) -> str:
    """How a run ended, in plain words ('you stopped it at step 24 of 80')."""
    return {"completed": f"all {planned} steps done", "stopped": f"you stopped it at step {done} of {planned}",
            "early_stop": f"the loss stopped falling at step {done} of {planned} (early stop)",
            "diverged": f"the loss blew up at step {done}: lower lr or the style weight"}.get(reason, reason)


def report_html(result, values: dict, references: dict) -> str:
    """The run's facts, final losses and metrics (values: {key: float}, references: {"photo":
    {...}, "painting": {...}} as background.references makes them) as one HTML table."""
    last, done, planned = (result.history[-1] if result.history else {}), len(result.history), result.config.steps
    facts = [("steps", f"{done} of {planned}"), ("how it ended", ended_words(result.stop_reason, done, planned)),
             ("seconds", f"{result.seconds:.1f}"), ("backbone", result.backbone)]
    terms = (("final total loss (weighted)", "total"), ("final content term (unweighted)", "content"),
             ("final style term (unweighted)", "style"))
    facts += [(label, last[key]) for label, key in terms if key in last]
    rows = [(label, _cell(v), "", "", "", "") for label, v in facts] + metric_rows(values, references)
    if not values:
        rows.append(("quality metrics", "measuring…", "", "", "", ""))
    head = ("after the run", "result", "the photo", "the painting", "photo → painting", "higher means")
    cells = "".join("<tr>" + "".join(f"<td{PAD}>{c}</td>" for c in row) + "</tr>" for row in rows)
    return ("<table class='nst-metrics'><tr>" + "".join(f"<th{PAD}>{h}</th>" for h in head) + f"</tr>{cells}</table>"
            "<div style='font-size:90%'>The photo's and the painting's columns measure each of them as if it "
            "were the result: the two ends a result lies between.</div>")


def traceback_html(text: str) -> str:
    """A run's traceback, folded away under a summary line."""
    return f"<details><summary>traceback</summary><pre>{html.escape(text or '')}</pre></details>"
