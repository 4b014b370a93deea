"""Do the notebooks catch a broken method? Break it in one small way at a time and count them.

    .venv/bin/python tools/mutate_method.py [--only NAME ...]     (about 3 min a mutation; not in make test)

Each mutation is one edit of the package (MUTATIONS: file, the text, what replaces it), made in a
copy of the working tree beside this one (so ../shared resolves as here); the notebooks then run
under nbval in smoke mode, as `make test` runs them, importing the copy (PYTHONPATH). A notebook
catches a mutation when one of its cells fails: a checked output differs or an assert fires.
Prints a markdown table: mutation, the notebooks that caught it, how many.
"""
import argparse
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
MUTATIONS = {   # name: (file, original text, broken text)
    "content loss (L1, not the mean squared error)": (
        "nst_helpers/core/losses.py", "return F.mse_loss(target.float(), content.float())",
        "return F.l1_loss(target.float(), content.float())"),
    "layer weights ignored": (
        "nst_helpers/core/losses.py", "total = total + w * layer_style_loss(",
        "total = total + layer_style_loss("),
    "the seed's normalisation lost (no 1/CHW)": (
        "nst_helpers/core/losses.py", 'return mse / chw if norm == "seed" else mse', "return mse"),
    "total variation: vertical only": (
        "nst_helpers/core/losses.py", "    return dv + dh\n", "    return dv\n"),
    "pyramid split: equal steps per level": (
        "nst_helpers/core/plan.py", "out = [max(1, round(steps * b / sum(budgets))) for b in budgets[:-1]]",
        "out = [max(1, steps // len(budgets)) for b in budgets[:-1]]"),
}


def copy_tree(dest: Path) -> None:
    """The tracked and untracked-but-not-ignored files of this checkout, into dest."""
    files = subprocess.run(["git", "ls-files", "-co", "--exclude-standard"], cwd=ROOT, capture_output=True,
                           text=True, check=True).stdout.splitlines()
    shutil.rmtree(dest, ignore_errors=True)
    for name in files:
        if (ROOT / name).is_file():
            (dest / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(ROOT / name, dest / name)


def caught_by(name: str) -> list[str]:
    """The notebooks in which a cell failed with mutation `name` applied."""
    path, old, new = MUTATIONS[name]
    dest = ROOT.parent / f"{ROOT.name}-mutant"
    copy_tree(dest)
    text = (dest / path).read_text()
    assert text.count(old) == 1, f"{name}: the text to break is not in {path} exactly once"
    (dest / path).write_text(text.replace(old, new))
    env = {**os.environ, "PYTHONPATH": str(dest), "NST_SMOKE": "1", "MPLBACKEND": "Agg", "OMP_NUM_THREADS": "2"}
    notebooks = sorted(str(p.relative_to(dest)) for p in (dest / "notebooks").glob("*.ipynb"))
    proc = subprocess.run([sys.executable, "-m", "pytest", *notebooks, "--nbval-lax", "--nbval-current-env",
                           "--nbval-sanitize-with", "tests/nbval_sanitize.cfg", "-p", "no:cacheprovider", "-q", "-rf"],
                          cwd=dest, env=env, capture_output=True, text=True)
    shutil.rmtree(dest, ignore_errors=True)
    return sorted({m.group(1) for m in re.finditer(r"FAILED notebooks/(\d\d)_\w+\.ipynb", proc.stdout)})


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--only", nargs="*", help="mutation names (default: all)")
    args = ap.parse_args()
    print("| mutation | notebooks that caught it | how many |\n|---|---|---|")
    for name in args.only or MUTATIONS:
        caught = caught_by(name)
        print(f"| {name} | {', '.join(caught) or 'none'} | {len(caught)} |", flush=True)


if __name__ == "__main__":
    main()
