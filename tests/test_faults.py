"""Fault injection: a process SIGKILLed while it writes its run folder leaves a folder that
the next experiments.latest_or_run neither re-uses nor crashes on; a command-line run stopped by
SIGINT or SIGTERM, or killed by SIGKILL, at a random step, resumes with --resume to the image of
a run never interrupted, pixel for pixel and float for float."""
import csv
import json
import os
import random
import re
import shlex
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst_helpers.notebook import compare as experiments
from nst_helpers.cli import signals as interrupts
from nst_helpers.runs import folders as runs
from nst_helpers.runs import checkpoint
from nst_helpers import cli, notebook
from nst_helpers.core import transfer

ROOT = Path(__file__).resolve().parents[1]

# The child runs a tiny real experiment and hangs just before one file gets its final name
# (its bytes are all in the temporary file then), so the parent can kill it right there.
CHILD = """
import os, sys, time
from nst_helpers.notebook import compare as experiments
from nst_helpers import notebook
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


# ------------------------------------------------------------------------------ interrupted command-line runs

STEPS = 20  # fewer than the fast preset's early-stopping window: every run does them all
RUN = ["--content", "images/content.jpg", "--style", "images/swirls.jpg", "--preset", "fast", "--size", "64",
       "--steps", str(STEPS), "--backbone", "efficientnet_lite0", "--device", "cpu", "--no-progress",
       "--snapshot-every", "2"]


def cli_process(*args) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if k != "NST_SMOKE"}
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return subprocess.Popen([sys.executable, "-m", "nst_helpers", *map(str, args)], cwd=ROOT, env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def finish(child: subprocess.Popen, timeout=180) -> tuple[int, str, str]:
    try:
        out, err = child.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        child.kill()
        out, err = child.communicate()
    return child.returncode, out, err


def checkpoint_at(child: subprocess.Popen, root: Path, step: int) -> Path:
    """Wait until the run under `root` has a checkpoint at `step` or later (its RESUMABLE note says
    so); its folder."""
    deadline = time.monotonic() + 180  # never hang the suite
    while time.monotonic() < deadline:
        for note in root.glob("fast/*/" + runs.RESUMABLE):
            found = re.search(r"at step (\d+) of", note.read_text())
            if found and int(found.group(1)) >= step:
                return note.parent
        assert child.poll() is None, f"the run ended before its checkpoint at step {step}: {finish(child)}"
        time.sleep(0.01)
    raise AssertionError(f"no checkpoint at step {step} in time")


def assert_same_result(folder: Path, whole: Path) -> None:
    assert runs.is_complete(folder) and not (folder / runs.CHECKPOINT).exists() and not (folder / runs.RESUMABLE).exists()
    assert not [p for p in folder.rglob(".*")]  # nor the bytes of a write the kill cut short
    assert np.array_equal(np.asarray(Image.open(folder / "final.png")), np.asarray(Image.open(whole / "final.png")))
    assert torch.equal(torch.load(folder / "final.pt"), torch.load(whole / "final.pt"))
    assert [(r["step"], r["total"]) for r in runs.read_history(folder)] == \
           [(r["step"], r["total"]) for r in runs.read_history(whole)]


def test_an_interrupted_then_killed_run_resumes_to_the_uninterrupted_image(tmp_path):
    """One run, SIGINT at a random step, resumed with the command it printed; that SIGKILLed at a
    later random step, resumed again: the image of a run never interrupted."""
    seed = int(os.environ.get("NST_FAULT_SEED") or random.SystemRandom().randrange(10**6))
    rng = random.Random(seed)
    sigint_at, kill_after = rng.randrange(2, 9), rng.randrange(2, 7)
    print(f"NST_FAULT_SEED={seed} repeats this: SIGINT after the checkpoint at step {sigint_at}, "
          f"SIGKILL {kill_after} steps after the resumed run's start")
    whole, victim = cli_process(*RUN, "--out", tmp_path / "whole"), cli_process(*RUN, "--out", tmp_path / "cut")
    folder = checkpoint_at(victim, tmp_path / "cut", sigint_at)
    victim.send_signal(signal.SIGINT)
    code, _, err = finish(victim)
    assert code == 130, err
    line = [ln for ln in err.splitlines() if "--resume" in ln]
    assert len(line) == 1 and "interrupted (SIGINT)" in line[0] and str(folder) in line[0], err
    stopped = int(re.search(r"stopped at step (\d+)", line[0]).group(1))
    assert stopped >= sigint_at and f"resumable from step {stopped}" in line[0]  # it ended between steps
    assert len(runs.read_history(folder)) == stopped and (folder / runs.LATEST).is_file()
    assert not runs.is_complete(folder) and runs.find_runs("fast", tmp_path / "cut") == []
    with pytest.raises(runs.IncompleteRunError, match="--resume"):
        runs.load_run(folder)

    command = shlex.split(line[0].split("finish it with: ")[1])  # the command it printed, as typed
    assert command[:3] == ["python", "-m", "nst_helpers"]
    resumed = cli_process(*command[3:], "--no-progress")
    checkpoint_at(resumed, tmp_path / "cut", stopped + kill_after)
    resumed.kill()
    assert finish(resumed)[0] == -signal.SIGKILL
    assert not runs.is_complete(folder) and (folder / runs.CHECKPOINT).is_file()
    code, out, err = finish(cli_process("--resume", folder, "--no-progress"))
    assert code == 0 and str(folder) in out, err
    code, _, err = finish(whole)
    assert code == 0, err
    assert_same_result(folder, runs.find_runs("fast", tmp_path / "whole")[0])
    assert runs.find_runs("fast", tmp_path / "cut") == [folder]


@pytest.fixture
def handlers_put_back():
    """The signal handlers as they were before the test, put back after it (a test may change them)."""
    before = {s: signal.getsignal(s) for s in interrupts.HANDLED}
    yield
    for s, handler in before.items():
        signal.signal(s, handler)


@pytest.mark.parametrize("signum, code", [(signal.SIGTERM, 143), (signal.SIGHUP, 129)], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_and_sighup_end_a_run_resumably(signum, code, tmp_path, capsys, monkeypatch, handlers_put_back):
    """SIGHUP: the terminal closed or the SSH connection lost; handled like SIGTERM."""
    real_run = transfer.run

    def run_then_sigterm(*args, callbacks=(), callback_every=1, **kw):
        def sigterm(step, row, image):
            if step == 2:  # the CLI's handler, not the default (which would end pytest)
                assert isinstance(signal.getsignal(signum), interrupts.Signals)
                os.kill(os.getpid(), signum)
        return real_run(*args, callbacks=[*callbacks, sigterm], callback_every=1, **kw)

    monkeypatch.setattr(transfer, "run", run_then_sigterm)
    signal.signal(signum, signal.SIG_DFL)   # under nohup SIGHUP starts ignored, and stays so (below)
    argv = [*RUN[:RUN.index("--steps")], "--steps", "5", "--device", "cpu", "--no-progress", "--snapshot-every", "5"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == code
    err = capsys.readouterr().err
    [folder] = (tmp_path / "fast").iterdir()
    assert f"interrupted ({signal.Signals(signum).name}): stopped at step 2 of 5; the work so far is in {folder}/" in err
    assert f"resumable from step 2; finish it with: python -m nst_helpers --resume {folder}" in err
    assert signal.getsignal(signum) is signal.SIG_DFL  # put back as it was
    assert checkpoint.load(folder)["step"] == 2 and len(runs.read_history(folder)) == 2


@pytest.mark.skipif(not hasattr(signal, "SIGHUP"), reason="no SIGHUP on this platform")
def test_under_nohup_a_hangup_leaves_the_run_going(tmp_path, capsys, monkeypatch, handlers_put_back):
    """nohup starts a command with SIGHUP ignored so that it outlives the terminal: the run must too."""
    real_run, seen = transfer.run, []

    def run_then_hangup(*args, callbacks=(), callback_every=1, **kw):
        def hangup(step, row, image):
            if step == 2:
                seen.append(signal.getsignal(signal.SIGHUP))
                os.kill(os.getpid(), signal.SIGHUP)
        return real_run(*args, callbacks=[*callbacks, hangup], callback_every=1, **kw)

    monkeypatch.setattr(transfer, "run", run_then_hangup)
    signal.signal(signal.SIGHUP, signal.SIG_IGN)
    argv = [*RUN[:RUN.index("--steps")], "--steps", "4", "--device", "cpu", "--no-progress", "--snapshot-every", "5"]
    assert cli.main([*argv, "--out", str(tmp_path)]) == 0, capsys.readouterr().err
    [folder] = (tmp_path / "fast").iterdir()
    assert seen == [signal.SIG_IGN] and (folder / runs.DONE).is_file()
    assert len(runs.read_history(folder)) == 4 and signal.getsignal(signal.SIGHUP) is signal.SIG_IGN


def test_a_second_signal_stops_at_once():
    sig = interrupts.Signals()
    with pytest.raises(KeyboardInterrupt):  # outside a run: at once, as Python would
        sig(signal.SIGINT, None)
    sig = interrupts.Signals()
    sig.running = True
    sig(signal.SIGTERM, None)  # inside: after the current step
    assert sig.is_set() and sig.signum == signal.SIGTERM
    with pytest.raises(KeyboardInterrupt):
        sig(signal.SIGINT, None)
    assert sig.signum == signal.SIGTERM  # the exit code tells the first


def test_the_interrupt_line_needs_no_terminal(monkeypatch, tmp_path):
    """After SIGHUP the terminal may be gone: writing the line raises OSError (EIO); the run must
    still end with its exit code, not a traceback."""
    import errno

    class Gone:
        def write(self, text):
            raise OSError(errno.EIO, "Input/output error")

        def flush(self):
            raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(sys, "stderr", Gone())
    sig = interrupts.Signals()
    sig.running, sig.folder = True, tmp_path
    sig(signal.SIGHUP, None)            # the handler's own line
    assert sig.interrupted("stopped at step 2 of 5") == 129


def test_run_folder_notes_are_utf8_even_in_an_ascii_locale(tmp_path):
    """LC_ALL=C without Python's UTF-8 mode makes the locale's encoding ASCII; a run folder under a
    non-ASCII path wrote its RESUMABLE note (which names the folder) in that encoding, and failed."""
    folder = tmp_path / "café"
    folder.mkdir()
    env = {**os.environ, "LC_ALL": "C", "LANG": "C", "PYTHONCOERCECLOCALE": "0", "PYTHONUTF8": "0"}
    code = ("import locale, sys; from nst_helpers.runs import checkpoint, folders; "
            "assert locale.getpreferredencoding(False).lower() in ('ascii', 'ansi_x3.4-1968'), locale.getpreferredencoding(False); "
            "f = folders.write_text(sys.argv[1] + '/RESUMABLE', checkpoint.note(sys.argv[1], 3, 10)); print(f)")
    done = subprocess.run([sys.executable, "-c", code, str(folder)], env=env, capture_output=True, text=True,
                          cwd=Path(__file__).resolve().parents[1], timeout=120)
    assert done.returncode == 0, done.stderr[-800:]
    assert "café" in (folder / "RESUMABLE").read_text(encoding="utf-8")
