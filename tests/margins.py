"""Thresholds with measured margins: a test states a numeric bound through `below` / `above`, so
`tools/measure_margins.py` can record every such value on each CPU path (native bf16 or not,
1 or 2 torch threads, another seed) and print how far each sits from its bound.

    below(after / before, 0.8, "loss ratio")   # assert value < limit, recorded
    above(p_cat, 0.8, "cat probability")        # assert value > limit, recorded
    torch.manual_seed(seed(3))                  # 3, or 3 + NST_TEST_SEED_SHIFT on the 'other seed' path

Recording happens only when NST_MARGINS_LOG names a file (one JSON line per bound checked).
"""
import json
import os


def seed(n: int) -> int:
    """A test's seed, shifted by NST_TEST_SEED_SHIFT (default 0) for the other-seed path."""
    return n + int(os.environ.get("NST_TEST_SEED_SHIFT", "0"))


def _record(op: str, value: float, limit: float, what: str) -> None:
    log = os.environ.get("NST_MARGINS_LOG")
    if log:
        test = os.environ.get("PYTEST_CURRENT_TEST", "?").rsplit(" (", 1)[0]
        with open(log, "a") as f:
            f.write(json.dumps({"test": test, "what": what, "op": op, "value": value, "limit": limit}) + "\n")


def below(value, limit, what: str) -> None:
    """assert value < limit (both plain numbers), and record it."""
    value, limit = float(value), float(limit)
    _record("<", value, limit, what)
    assert value < limit, f"{what}: {value:.4g} is not below {limit:.4g}"


def above(value, limit, what: str) -> None:
    """assert value > limit (both plain numbers), and record it."""
    value, limit = float(value), float(limit)
    _record(">", value, limit, what)
    assert value > limit, f"{what}: {value:.4g} is not above {limit:.4g}"
