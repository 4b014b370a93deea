"""Every numeric threshold in the tests, measured on each CPU path: how far each value sits from its bound.

    .venv/bin/python tools/measure_margins.py [--paths native,avx2,fp32,threads1,seed1] [--out margins.md]

Tests state their bounds through tests/margins.py (`below` / `above`), which log each value when
NST_MARGINS_LOG is set. This runs the test files that use them once per path, in a subprocess with
the path's environment, and prints one markdown row per bound: the value on each path, the bound,
and the worst margin (x = bound / value for positive numbers, else the difference). Paths:
  native    this machine as it is
  avx2      a CPU without AVX-512 (so without native bf16): ATEN_CPU_CAPABILITY=avx2, ONEDNN_MAX_CPU_ISA=AVX2
  fp32      this CPU's kernels with bf16 autocast reported absent (tests/conftest.py, NST_TEST_NO_BF16)
  threads1  one torch thread instead of the suite's two
  seed1     every seed a test takes through margins.seed() shifted by one
Not run by `make test` (about 15 minutes on 2 cores).
"""
import argparse
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PATHS = {"native": {}, "avx2": {"ATEN_CPU_CAPABILITY": "avx2", "ONEDNN_MAX_CPU_ISA": "AVX2"},
         "fp32": {"NST_TEST_NO_BF16": "1"}, "threads1": {"NST_TEST_THREADS": "1"}, "seed1": {"NST_TEST_SEED_SHIFT": "1"}}


def run_path(name: str, targets: list[str]) -> list[dict]:
    """The bounds the tests checked on one path (pytest in a subprocess with the path's environment)."""
    with tempfile.NamedTemporaryFile(suffix=".jsonl", delete=False) as f:
        log = f.name
    env = {**os.environ, **PATHS[name], "NST_MARGINS_LOG": log, "MPLBACKEND": "Agg"}
    proc = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", *targets],
                          cwd=ROOT, env=env, capture_output=True, text=True)
    print(f"[{name}] {proc.stdout.strip().splitlines()[-1] if proc.stdout.strip() else proc.stderr[-300:]}", file=sys.stderr)
    rows = [json.loads(line) for line in Path(log).read_text().splitlines()]
    os.unlink(log)
    return rows


def margin(op: str, value: float, limit: float) -> tuple[float, str]:
    """(sort key: smaller is tighter, text): a ratio where both are positive, else a difference."""
    if value > 0 and limit > 0:
        ratio = limit / value if op == "<" else value / limit
        return ratio, f"x{ratio:.3g}"
    diff = limit - value if op == "<" else value - limit
    return diff, f"{diff:+.3g}"


def table(results: dict) -> str:
    paths = list(results)
    keys = list(dict.fromkeys((r["test"], r["what"], r["op"], r["limit"]) for rows in results.values() for r in rows))
    lines = [f"| test | value | bound | {' | '.join(paths)} | worst margin |", "|---" * (len(paths) + 4) + "|"]
    for test, what, op, limit in keys:
        values = {p: [r["value"] for r in results[p] if (r["test"], r["what"], r["op"], r["limit"]) == (test, what, op, limit)]
                  for p in paths}
        seen = [v for vs in values.values() for v in vs]
        worst = min((margin(op, v, limit) for v in seen), default=(0, "-"))[1]
        cells = [", ".join(f"{v:.3g}" for v in values[p]) or "-" for p in paths]
        lines.append(f"| {test.split('::', 1)[1] if '::' in test else test} | {what} | {op} {limit:.3g} | {' | '.join(cells)} | {worst} |")
    return "\n".join(lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--paths", default=",".join(PATHS))
    ap.add_argument("--out", help="also write the table to this file")
    ap.add_argument("files", nargs="*", help="test files (default: every one that imports margins)")
    args = ap.parse_args()
    files = args.files or sorted(str(p.relative_to(ROOT)) for p in (ROOT / "tests").glob("test_*.py")
                                 if "from margins import" in p.read_text())
    results, targets = {}, files
    for name in args.paths.split(","):
        results[name] = run_path(name, targets)
        # the later paths run only the tests that checked a bound on the first one
        targets = targets if len(results) > 1 else sorted({r["test"] for r in results[name]}) or files
    text = table(results)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
