"""Faults, round two (issue 15): one writer per run folder, storage that fails (a full disk at a
checkpoint or at the final save, a file system turning read-only, a folder that vanishes), a
stdout that is closed or full, and a loss so large that the plots overflowed. Each ends in a
folder that is complete, or resumable with the command the one-line error prints."""
import errno
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image

from nst_helpers import preset, run
from nst_helpers.cli import main
from nst_helpers.core import files
from nst_helpers.runs import checkpoint, folders, lock, plots
from test_bad_input import assert_one_line_error, assert_raises
from test_faults import ROOT, checkpoint_at, cli_process, finish

TINY = ["--content", "images/content.jpg", "--style", "images/swirls.jpg", "--preset", "fast",
        "--backbone", "efficientnet_lite0", "--size", "64", "--no-progress"]


def interrupted_folder(tmp_path, pair, net, name="cut", **changes) -> tuple[Path, object]:
    """A run with checkpoints in tmp_path/name, stopped after step 3 of 8: (its folder, its result)."""
    folder = tmp_path / name
    folder.mkdir()
    stop = type("Stop", (), {"now": False, "is_set": lambda self: self.now})()

    def at_three(step, row, image):
        stop.now = stop.now or step == 3
    cfg = preset("fast", size=64, steps=8, snapshot_every=2, backbone="efficientnet_lite0").replace(**changes)
    result = run(*pair, cfg, backbone=net, progress=False, callbacks=[at_three], callback_every=1,
                 stop_event=stop, checkpoints=checkpoint.Checkpoints(folder))
    assert result.stop_reason == "stopped" and (folder / folders.CHECKPOINT).is_file()
    return folder, result


def holding(child: subprocess.Popen, folder: Path) -> None:
    """Wait until `child` holds `folder`'s lock (its PID in the lock file)."""
    deadline = time.monotonic() + 120   # never hang the suite
    while time.monotonic() < deadline:
        if (folder / lock.LOCK).is_file() and (folder / lock.LOCK).read_text().strip() == str(child.pid):
            return
        assert child.poll() is None, f"the resume ended before it took the lock: {finish(child)}"
        time.sleep(0.01)
    raise AssertionError("the resume took no lock in time")


# ------------------------------------------------------------------------------ one writer

def test_a_resume_while_the_run_goes_on_is_refused_naming_it(tmp_path, capsys):
    child = cli_process(*TINY, "--steps", "40", "--snapshot-every", "2", "--out", tmp_path)
    try:
        folder = checkpoint_at(child, tmp_path, 2)
        code = main(["--resume", str(folder), "--no-progress"])
        assert_one_line_error(code, capsys.readouterr().err, f"is in use by process {child.pid}",
                              "wait for it to end", "--resume")
        code, out, err = finish(child)
    finally:
        child.kill()
    assert code == 0 and folders.is_complete(folder), err   # the run it refused to disturb finished


def test_two_resumes_of_one_folder_the_second_refused_and_a_killed_one_frees_it(tmp_path, tiny_pair, effnet, capsys):
    folder, result = interrupted_folder(tmp_path, tiny_pair, effnet, steps=40)
    first = cli_process("--resume", folder, "--no-progress")
    try:
        holding(first, folder)
        assert main(["--resume", str(folder), "--no-progress"]) == 2   # the second resume
        assert f"in use by process {first.pid}" in capsys.readouterr().err
        assert_raises(lock.FolderBusy, lambda: checkpoint.resume(folder, backbone=effnet, progress=False),
                      f"process {first.pid}")
        assert_raises(lock.FolderBusy, lambda: folders.save_run(result, folder=folder), f"process {first.pid}")
        first.send_signal(signal.SIGKILL)   # killed outright: no clean-up of its own
        first.wait()
    finally:
        first.kill()
    assert not folders.is_complete(folder) and (folder / folders.CHECKPOINT).is_file()
    # the kernel released the lock with the process: nothing stale to clean up
    assert checkpoint.resume(folder, backbone=effnet, progress=False).stop_reason in ("completed", "early_stop")
    assert folders.is_complete(folder) and not (folder / lock.LOCK).exists()


def test_save_run_never_completes_another_runs_folder(tmp_path, tiny_pair, effnet):
    folder, _ = interrupted_folder(tmp_path, tiny_pair, effnet)
    before = {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()}
    other = run(*tiny_pair, preset("fast", size=64, steps=2, backbone="efficientnet_lite0"), backbone=effnet,
                progress=False)
    assert_raises(ValueError, lambda: folders.save_run(other, folder=folder), "holds another run's work",
                  "leave folder out")
    assert {p.name: p.read_bytes() for p in folder.iterdir() if p.is_file()} == before  # nothing touched
    empty = tmp_path / "new"
    empty.mkdir()
    assert folders.is_complete(folders.save_run(other, folder=empty))  # a folder of its own is fine


# ------------------------------------------------------------------------------ storage

def fail_replace(monkeypatch, err: int, when):
    """os.replace in atomic_file fails with errno `err` once when(dst, count) says so, and ever after."""
    real, seen, failing = os.replace, {}, []

    def replace(src, dst):
        seen[Path(dst).name] = seen.get(Path(dst).name, 0) + 1
        if failing or when(Path(dst), seen[Path(dst).name]):
            failing.append(dst)
            raise OSError(err, os.strerror(err))
        real(src, dst)
    monkeypatch.setattr(files.os, "replace", replace)
    return failing


def gone(dst: Path, count: int) -> bool:
    if dst.name == folders.CHECKPOINT and count == 3:
        shutil.rmtree(dst.parent)   # the folder vanishes under the run
        return True
    return False


STORAGE = [  # id, errno, when it strikes (the file, its count), words of the line, resumable
    ("full disk at the final save", errno.ENOSPC, lambda dst, n: dst.name == "loss.png",
     ["cannot write", "loss.png: the disk is full", "free some space"], True),
    ("read-only at the third checkpoint (step 2)", errno.EROFS, lambda dst, n: dst.name == folders.CHECKPOINT and n == 3,
     ["cannot write", "checkpoint.pt: the file system is read-only", "checkpoint of step 1", "make it writable"], True),
    ("folder vanished", errno.ENOENT, gone, ["the folder is gone", "nothing of the run is kept", "run it again"], False),
]


@pytest.mark.parametrize("name, err, when, words, resumable", [r[:1] + r[1:] for r in STORAGE], ids=[r[0] for r in STORAGE])
def test_a_storage_failure_is_one_line_with_the_way_forward(name, err, when, words, resumable, tmp_path, capsys,
                                                           monkeypatch):
    failing = fail_replace(monkeypatch, err, when)
    code = main([*TINY, "--steps", "8", "--snapshot-every", "1", "--out", str(tmp_path)])
    line = capsys.readouterr().err
    assert_one_line_error(code, line, *words)
    assert Path(failing[0]).name in line   # the first failure is the one reported, not keep_work's after it
    monkeypatch.undo()
    made = list(tmp_path.glob("fast/*"))
    if not resumable:
        assert "--resume" not in line
        return
    assert f"--resume {made[0]}" in line
    assert main(["--resume", str(made[0]), "--no-progress"]) == 0 and folders.is_complete(made[0])


@pytest.fixture
def full_disk(tmp_path):
    """A 1 MiB tmpfs (the test runs as root); skipped where it cannot be mounted."""
    mount = tmp_path / "tiny-disk"
    mount.mkdir()
    made = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=1m", "tmpfs", str(mount)], capture_output=True, text=True)
    if made.returncode != 0:
        pytest.skip(f"cannot mount a 1 MiB tmpfs to fill (needs root and mount): {made.stderr.strip()}")
    try:
        yield mount
    finally:
        subprocess.run(["umount", "-l", str(mount)], check=False)


def test_a_tmpfs_filling_up_at_a_checkpoint_keeps_the_run_resumable(full_disk, capsys):
    code = main([*TINY, "--size", "128", "--steps", "30", "--snapshot-every", "5", "--out", str(full_disk)])
    line = capsys.readouterr().err
    assert_one_line_error(code, line, "cannot write", "the disk is full", "checkpoint of step 0", "--resume")
    folder = next(full_disk.glob("fast/*"))
    subprocess.run(["mount", "-o", "remount,size=64m", str(full_disk)], check=True)   # space freed
    assert main(["--resume", str(folder), "--no-progress"]) == 0 and folders.is_complete(folder)


# ------------------------------------------------------------------------------ streams

def test_a_closed_stdout_never_fails_a_saved_run(tmp_path):
    child = cli_process(*TINY, "--steps", "4", "--out", tmp_path)   # as `... | head -1`
    first = child.stdout.readline()
    child.stdout.close()
    child.stdout = None
    code, _, err = finish(child)
    assert first.startswith("[nst]") and code == 0, err
    assert "Traceback" not in err and "BrokenPipe" not in err and "Exception ignored" not in err
    assert folders.is_complete(next(tmp_path.glob("fast/*")))


@pytest.mark.skipif(not Path("/dev/full").exists(), reason="no /dev/full here")
def test_a_full_stdout_never_fails_a_saved_run(tmp_path):
    env = {k: v for k, v in os.environ.items() if k != "NST_SMOKE"}
    with open("/dev/full", "w") as full:
        done = subprocess.run([sys.executable, "-m", "nst_helpers", *TINY, "--steps", "4", "--out", str(tmp_path)],
                              cwd=ROOT, env=env, stdout=full, stderr=subprocess.PIPE, text=True, timeout=180)
    assert done.returncode == 0 and "Traceback" not in done.stderr, done.stderr
    assert folders.is_complete(next(tmp_path.glob("fast/*")))


# ------------------------------------------------------------------------------ astronomic losses

def test_a_1e300_style_weight_still_finishes_its_folder(tmp_path, capsys):
    code = main([*TINY, "--steps", "4", "--style-weight", "1e300", "--out", str(tmp_path)])
    out = capsys.readouterr().out
    folder = next(tmp_path.glob("fast/*"))
    assert code == 0 and "diverged" in out and folders.is_complete(folder)
    with Image.open(folder / "loss.png") as im:
        im.load()


def test_a_diverging_run_interrupted_then_resumed_completes(tmp_path, tiny_pair, effnet):
    folder, _ = interrupted_folder(tmp_path, tiny_pair, effnet, style_weight=1e300)
    checkpoint.resume(folder, backbone=effnet, progress=False)   # it diverges, and is saved as such
    assert folders.is_complete(folder) and folders.load_run(folder)["meta"]["stop_reason"] == "diverged"


def test_the_loss_plot_draws_any_history():
    values = [5.0, float("inf"), float("nan"), 1e300, -1.0, 0.0, 1e-320, 2.0]
    assert [v for v in plots.visible(values) if v == v] == [5.0, 2.0]   # the drawable ones, in range
    history = [{"step": i + 1, "total": v, "content": v, "style": v, "tv": v, "size": 64} for i, v in enumerate(values)]
    fig = plots.loss_figure(history, preset("fast", tv_weight=1.0, style_weight=1e300))
    assert plots.png_bytes(fig).startswith(b"\x89PNG")
    notes = [t.get_text() for t in fig.axes[0].texts]   # what is left out is said, not only omitted
    assert len(notes) == 1 and "not drawn where infinite, NaN or over 1e250" in notes[0] and "style × 1e300" in notes[0]
