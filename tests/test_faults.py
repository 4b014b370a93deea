"""Fault injection: a process SIGKILLed while it writes its run folder leaves a folder that
the next experiments.latest_or_run neither re-uses nor crashes on."""
import csv
import json
import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from PIL import Image

from nst_helpers import experiments, notebook, runs

ROOT = Path(__file__).resolve().parents[1]

# The child runs a tiny real experiment and hangs just before one file gets its final name
# (its bytes are all in the temporary file then), so the parent can kill it right there.
CHILD = """
import os, sys, time
from nst_helpers import experiments, notebook
from nst_helpers.backbones import EfficientNetLite0Features
out, hang_at = sys.argv[1], sys.argv[2]
real_replace = os.replace
def replace(src, dst):
    if os.path.basename(dst) == hang_at:
        print("HANGING", os.path.dirname(dst), flush=True)
        time.sleep(600)
    real_replace(src, dst)
os.replace = replace
s = notebook.settings(size=64, steps=3, backbone="efficientnet_lite0", outputs=out)
experiments.latest_or_run(s, "exp1", EfficientNetLite0Features(), progress=False)
print("FINISHED", flush=True)
"""


def kill_while_writing(out: Path, hang_at: str) -> Path:
    """Run CHILD until it hangs before renaming `hang_at`, SIGKILL it, return its run folder."""
    env = {k: v for k, v in os.environ.items() if k != "NST_SMOKE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    child = subprocess.Popen([sys.executable, "-c", CHILD, str(out), hang_at], cwd=ROOT, env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    watchdog = threading.Timer(180, child.kill)  # never hang the suite
    watchdog.start()
    try:
        line = child.stdout.readline()
        assert line.startswith("HANGING"), f"child did not reach {hang_at}: {line!r} {child.stderr.read()[-2000:]}"
        os.kill(child.pid, signal.SIGKILL)
        assert child.wait(30) == -signal.SIGKILL
    finally:
        watchdog.cancel()
        child.kill()
        child.wait()
    return Path(line.split(maxsplit=1)[1].strip())


def assert_every_named_file_is_whole(folder: Path) -> None:
    """A file with its final name is complete: images decode, JSON and CSV parse."""
    for path in folder.rglob("*"):
        if path.is_dir() or path.name.startswith("."):
            continue
        if path.suffix in (".png", ".gif"):
            with Image.open(path) as im:
                im.load()
        elif path.suffix == ".json":
            json.loads(path.read_text())
        elif path.suffix == ".csv":
            assert list(csv.DictReader(path.open(newline="")))


@pytest.mark.parametrize("hang_at", [
    "content.png",   # after final.png: complete by the old rule, and load_run then crashed
    "DONE",          # every other file in place: only the marker is missing
])
def test_a_save_killed_mid_write_is_never_reused(tmp_path, monkeypatch, effnet, hang_at):
    monkeypatch.delenv("NST_SMOKE", raising=False)
    monkeypatch.chdir(ROOT)
    killed = kill_while_writing(tmp_path, hang_at)
    assert killed.parent == tmp_path / "exp1" and (killed / "final.png").is_file()
    assert not runs.is_complete(killed) and not (killed / hang_at).exists()
    assert any(p.name.startswith(f".{hang_at}.") for p in killed.iterdir())  # its bytes, never renamed
    assert_every_named_file_is_whole(killed)
    assert runs.find_runs("exp1", tmp_path) == []
    with pytest.raises(runs.IncompleteRunError, match="incomplete run folder"):
        runs.load_run(killed)

    s = notebook.settings(size=64, steps=3, backbone="efficientnet_lite0", outputs=str(tmp_path))
    fresh = experiments.latest_or_run(s, "exp1", effnet, progress=False)
    assert not fresh["reused"] and fresh["folder"] != killed and runs.is_complete(fresh["folder"])
    again = experiments.latest_or_run(s, "exp1", effnet, progress=False)
    assert again["reused"] and again["folder"] == fresh["folder"]
    assert killed.is_dir() and not runs.is_complete(killed)   # left alone: never overwritten
