"""Steady speed under load: torch's OpenMP threads sleep while they wait (OMP_WAIT_POLICY=PASSIVE)."""
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from nst_helpers.core import threads

ROOT = Path(__file__).resolve().parents[1]


def test_steady_sets_passive_unless_the_user_chose():
    env = {}
    threads.steady(env)
    assert env == {"OMP_WAIT_POLICY": "PASSIVE"}
    mine = {"OMP_WAIT_POLICY": "ACTIVE"}
    threads.steady(mine)
    assert mine == {"OMP_WAIT_POLICY": "ACTIVE"}


def python(code: str) -> list:
    """Run `code` in a fresh interpreter without OMP_WAIT_POLICY; the JSON it prints last."""
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env={**env, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr[-2000:]
    return json.loads(p.stdout.splitlines()[-1])


def test_steady_says_whether_it_came_before_torch():
    code = ("import importlib.util as u, json, os; s = u.spec_from_file_location('t', 'nst_helpers/core/threads.py'); "
            "t = u.module_from_spec(s); s.loader.exec_module(t); first = t.steady(); import torch; "
            "print(json.dumps([first, t.steady(), os.environ['OMP_WAIT_POLICY']]))")
    assert python(f"import os; os.chdir({str(ROOT)!r}); " + code) == [True, False, "PASSIVE"]  # too late after torch


def test_importing_the_package_sets_passive_before_torch_loads():
    code = ("import json, os, sys; import nst_helpers; lazy = 'torch' not in sys.modules; from nst_helpers import run; "
            "print(json.dumps([os.environ.get('OMP_WAIT_POLICY'), lazy, 'torch' in sys.modules]))")
    assert python(code) == ["PASSIVE", True, True]   # the package loads torch only when a name needs it


@pytest.mark.skipif(shutil.which("make") is None, reason="make is not installed")
def test_make_runs_everything_and_the_kernel_with_passive_threads():
    show = ["make", "-s", "--eval", "show-env: ; @echo \"$$OMP_WAIT_POLICY\"", "show-env"]
    env = {k: v for k, v in os.environ.items() if k != "OMP_WAIT_POLICY"}
    assert subprocess.run(show, cwd=ROOT, capture_output=True, text=True, env=env).stdout.strip() == "PASSIVE"
    mine = subprocess.run(show, cwd=ROOT, capture_output=True, text=True, env={**env, "OMP_WAIT_POLICY": "ACTIVE"})
    assert mine.stdout.strip() == "ACTIVE"  # a user's choice wins
    plan = subprocess.run(["make", "-n", "-B", ".venv/share/jupyter/kernels/python3/kernel.json"], cwd=ROOT,
                          capture_output=True, text=True, env=env).stdout
    assert "ipykernel install" in plan and "--env OMP_WAIT_POLICY PASSIVE" in " ".join(plan.split())
