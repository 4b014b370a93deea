"""The numbers a notebook's checked cells print, which nbval compares in smoke mode: rounded so
that every CPU prints the same, yet moved by any break in the method (a loss, a weight, a level).

Smoke runs are float32 (settings.SMOKE: no bf16 autocast), so CPUs with and without native bf16
differ only in the last bits of their kernels' sums; at two significant figures the stored outputs
(tools/record_checked_outputs.py) pass on both paths (`make test CPU=avx2`), while a wrong loss, weight
or pyramid moves them by far more (tools/mutate_method.py).

    print(loss_by_level(result.history))   # one line per pyramid level: the loss where it began and ended
    print(rounded_rows(rows, ["ssim", "gram_distance"]))
"""
from ..runs.metrics import by_level

DIGITS = 2   # significant figures


def sig(x: float, digits: int = DIGITS) -> str:
    """x to `digits` significant figures ('2e+06', '0.53', '1.2e+02')."""
    return f"{float(x):.{digits}g}"


def loss_by_level(history: list) -> str:
    """One line per pyramid level: its size and steps, the total loss at its first and last step,
    and the content and style terms at its last, unweighted (the total weighs them: content_weight
    x content + style_weight x the backbone's style scale x style, + total variation)."""
    lines = []
    for rows in by_level(history):
        first, last = rows[0], rows[-1]
        lines.append(f"{first['size']} px, {len(rows)} steps: total {sig(first['total'])} -> {sig(last['total'])} "
                     f"(unweighted at the end: content {sig(last['content'])}, style {sig(last['style'])})")
    return "\n".join(lines)


def rounded_rows(rows: dict, keys: list, digits: int = DIGITS) -> str:
    """{label: {key: value}} as aligned text, each value to `digits` significant figures."""
    width = max(len(str(label)) for label in rows)
    head = " " * width + "".join(f"  {k:>16}" for k in keys)
    body = [f"{label:<{width}}" + "".join(f"  {sig(r[k], digits):>16}" for k in keys) for label, r in rows.items()]
    return "\n".join([head, *body])
