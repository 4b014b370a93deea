"""Experiment grids on Dask (grid/): a 2 x 2 grid on a LocalCluster of two workers gives, cell for
cell, the images of the same runs one after another; so does a real scheduler with two workers as
separate processes on 127.0.0.1 through `--scheduler`; a worker killed mid-cell has its cell rerun
elsewhere with the same result; an interrupted grid resumes without redoing finished cells; a
failing cell is reported while the others finish; bad grid files and a dead scheduler are one line.

Cheapest settings: the fast recipe on EfficientNet-Lite0 at 64 px, a few steps. Images are compared
exactly (8-bit PNGs, both sides with one torch thread on the CPU)."""
import json
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst_helpers.core.images import to_pil
from nst_helpers.core.transfer import run
from nst_helpers.grid import Grid, run_grid, spec, store
from test_bad_input import assert_one_line_error

ROOT = Path(__file__).resolve().parents[1]   # the tested code's repository: the workers import it from here
ENV = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), *filter(None, [os.environ.get("PYTHONPATH")])]),
       "OMP_WAIT_POLICY": "PASSIVE"}
BASE = dict(size=64, steps=6, backbone="efficientnet_lite0")
AXES = {"style_weight": [1e6, 1e7], "tv_weight": [0, 1000]}


def tiny(name="tiny", **over) -> Grid:
    fields = dict(contents=["images/content.jpg"], styles=["images/swirls.jpg"], presets=["fast"], base=dict(BASE),
                  axes=dict(AXES), root=ROOT)
    return Grid(name, **{**fields, **over})


def final(root: Path, cell: str) -> np.ndarray:
    with Image.open(store.cell_dir(root, cell) / "final.png") as img:
        return np.array(img.convert("RGB"))


@pytest.fixture(scope="module")
def one_by_one(effnet):
    """{cell: its final image as 8-bit RGB} of tiny()'s cells and of the kill test's, run here one
    after another with one torch thread (as each worker has on this 2-core machine)."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        cells = tiny().cells() + slow().cells()
        return {c.name: np.array(to_pil(run(c.content, c.style, c.config, backbone=effnet, progress=False).image))
                for c in cells}
    finally:
        torch.set_num_threads(before)


def assert_same(root: Path, grid: Grid, reference: dict) -> None:
    for c in grid.cells():
        assert store.is_done(root, c), c.name
        assert np.array_equal(final(root, c.name), reference[c.name]), c.name


def test_a_local_cluster_of_two_workers_gives_the_runs_one_after_another(tmp_path, one_by_one):
    report = run_grid(tiny(), workers=2, out=tmp_path, progress=False)
    assert sorted(report.ran) == sorted(c.name for c in tiny().cells()) and not report.failed
    assert len({t["worker"] for t in report.timings.values()}) == 2, report.timings   # both workers ran cells
    assert_same(tmp_path / "tiny", tiny(), one_by_one)
    meta = json.loads((tmp_path / "tiny" / "style_weight-1e7__tv_weight-0" / "config.json").read_text())
    assert meta["config"]["style_weight"] == 1e7 and meta["axes"]["tv_weight"] == "0" and meta["grid"] == "tiny"
    for name in ("sheet.png", "metrics.csv", "metrics.md"):
        assert (tmp_path / "tiny" / name).is_file(), name
    assert (tmp_path / "tiny" / "metrics.md").read_text().count("\n") == 3 + 4


# ------------------------------------------------------------------------------ a real cluster

def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def scheduler(tmp_path_factory):
    """`dask scheduler` and two `dask worker` processes (one thread each) on 127.0.0.1; stopped at the end."""
    from distributed import Client
    where = tmp_path_factory.mktemp("dask")
    address = f"tcp://127.0.0.1:{_free_port()}"
    dask = [sys.executable, "-m", "dask"]
    procs = [subprocess.Popen([*dask, "scheduler", "--host", "127.0.0.1", "--port", address.rsplit(":", 1)[1],
                               "--no-dashboard"], cwd=where, env=ENV, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    try:
        for _ in range(2):
            procs.append(subprocess.Popen([*dask, "worker", address, "--nthreads", "1", "--no-dashboard",
                                           "--host", "127.0.0.1", "--death-timeout", "60"], cwd=where, env=ENV,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        client = Client(address, timeout=30)
        client.wait_for_workers(2, timeout=60)
        yield address, client
        client.shutdown()   # the scheduler and its workers, at once
    finally:
        for p in procs[::-1]:
            p.terminate()
        for p in procs[::-1]:
            try:
                p.wait(timeout=3)   # shut down already: a nanny that lingers is killed
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait(timeout=5)


def cli(*args, timeout=120):
    return subprocess.run([sys.executable, "-m", "nst_helpers", "grid", *map(str, args)], cwd=ROOT, env=ENV,
                          capture_output=True, text=True, timeout=timeout)


def test_a_scheduler_and_two_worker_processes_through_the_command_line(tmp_path, scheduler, one_by_one):
    address, _ = scheduler
    grid_file = tmp_path / "tiny.yaml"
    grid_file.write_text(f"contents: [{ROOT}/images/content.jpg]\nstyles: [{ROOT}/images/swirls.jpg]\n"
                         "presets: [fast]\nbase: {size: 64, steps: 6, backbone: efficientnet_lite0}\n"
                         "axes:\n  style_weight: [1e6, 1e7]\n  tv_weight: [0, 1000]\n")
    done = cli(grid_file, "--scheduler", address, "--out", tmp_path / "out", "--no-progress")
    assert done.returncode == 0, done.stderr
    assert "4 cells, 4 run, 0 finished before, 0 failed" in done.stdout and address in done.stdout
    assert_same(tmp_path / "out" / "tiny", tiny(), one_by_one)


def slow() -> Grid:
    """Two cells long enough (about two seconds each) to be killed in the middle."""
    return tiny("slow", base={**BASE, "steps": 60, "early_stop_window": 0}, axes={"style_weight": [1e6, 1e7]})


def test_a_worker_killed_mid_cell_and_the_grid_still_completes(tmp_path, scheduler, one_by_one):
    _, client = scheduler
    killed = []

    def kill_the_first_busy_worker():
        deadline = time.time() + 60
        while time.time() < deadline and not killed:
            busy = [w for w, keys in client.processing().items() if keys]
            if busy:
                time.sleep(0.5)   # into the cell's run
                if client.processing().get(busy[0]):
                    pid = client.run(os.getpid, workers=[busy[0]])[busy[0]]
                    os.kill(pid, signal.SIGKILL)
                    killed.append(busy[0])
            time.sleep(0.05)

    killer = threading.Thread(target=kill_the_first_busy_worker, daemon=True)
    killer.start()
    report = run_grid(slow(), client=client, out=tmp_path, progress=False)
    killer.join(timeout=5)
    assert killed, "no worker was busy to be killed"
    assert not report.failed and len(report.ran) == 2, report.summary()
    assert_same(tmp_path / "slow", slow(), one_by_one)
    assert not [p for p in (tmp_path / "slow").iterdir() if store.PARTIAL in p.name]
    client.wait_for_workers(2, timeout=60)   # the nanny restarts the killed one for the tests after


def test_an_interrupted_grid_resumes_without_redoing_finished_cells(tmp_path, scheduler, one_by_one):
    _, client = scheduler

    def stop(report, cell):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        run_grid(tiny(), client=client, out=tmp_path, progress=False, on_cell=stop)
    root = tmp_path / "tiny"
    finished = {c.name: (root / c.name / "DONE").stat().st_mtime_ns for c in tiny().cells() if store.is_done(root, c)}
    assert 1 <= len(finished) < 4, finished
    (root / ".left-by-a-kill.partial-abcdef").mkdir()   # what a client killed mid-write leaves
    again = run_grid(tiny(), client=client, out=tmp_path, progress=False)
    assert sorted(again.skipped) == sorted(finished) and len(again.ran) == 4 - len(finished), again.summary()
    assert {n: (root / n / "DONE").stat().st_mtime_ns for n in finished} == finished   # not rewritten
    assert not (root / ".left-by-a-kill.partial-abcdef").exists()
    assert_same(root, tiny(), one_by_one)


def test_a_failing_cell_is_reported_and_the_others_finish(tmp_path, scheduler):
    _, client = scheduler
    grid = tiny("failing", axes={"tile_size": [0, 64]})   # tiles are VGG19's: refused on Lite0 when the run starts
    report = run_grid(grid, client=client, out=tmp_path, progress=False)
    assert report.ran == ["tile_size-0"] and list(report.failed) == ["tile_size-64"], report.summary()
    assert "tile" in report.failed["tile_size-64"] and "failed tile_size-64" in report.summary()
    assert json.loads((tmp_path / "failing" / store.FAILED).read_text()) == report.failed
    again = run_grid(grid, client=client, out=tmp_path, progress=False)   # retries only the failed one
    assert again.skipped == ["tile_size-0"] and list(again.failed) == ["tile_size-64"]


def test_a_cell_made_from_other_settings_or_images_is_run_again(tmp_path, scheduler):
    _, client = scheduler
    photo = tmp_path / "photo.png"
    Image.open(ROOT / "images/content.jpg").convert("RGB").save(photo)
    grid = tiny("changed", contents=[str(photo)], axes={"style_weight": [1e6, 1e7]})
    names = sorted(c.name for c in grid.cells())
    assert sorted(run_grid(grid, client=client, out=tmp_path, progress=False).ran) == names
    same = run_grid(grid, client=client, out=tmp_path, progress=False)
    assert same.ran == [] and sorted(same.skipped) == names          # nothing changed: nothing rerun
    fewer = tiny("changed", contents=[str(photo)], axes={"style_weight": [1e6, 1e7]}, base={**BASE, "steps": 3})
    again = run_grid(fewer, client=client, out=tmp_path, progress=False)
    assert sorted(again.ran) == names and again.skipped == [], again.summary()   # a setting changed
    root = tmp_path / "changed"
    assert all(json.loads((root / n / "config.json").read_text())["config"]["steps"] == 3 for n in names)
    assert all(store.is_done(root, c) for c in fewer.cells()) and not any(store.is_done(root, c) for c in grid.cells())
    Image.open(photo).transpose(Image.Transpose.FLIP_LEFT_RIGHT).save(photo)   # the same name, other pixels
    flipped = run_grid(fewer, client=client, out=tmp_path, progress=False)
    assert sorted(flipped.ran) == names, flipped.summary()


# ------------------------------------------------------------------------------ bad input

@pytest.mark.parametrize("text, words", [
    ('{"contents": ["images/content.jpg"], "styles": ["images/swirls.jpg"], "stlyes": []}', ["unknown field", "stlyes"]),
    ('{"contents": ["images/content.jpg"], "styles": []}', ["styles is empty"]),
    ('{"contents": ["images/content.jpg"], "styles": ["images/swirls.jpg"], "axes": {"style_weight": []}}',
     ["axes.style_weight is empty"]),
    ('{"contents": ["images/content.jpg"], "styles": ["images/swirls.jpg"], "axes": {"style_wieght": [1]}}',
     ["unknown config field", "style_wieght"]),
    ('{"contents": ["images/content.jpg"], "styles": ["images/swirls.jpg"], "axes": {"steps": [10, -1]}}',
     ["cell steps--1", "steps"]),
], ids=["unknown field", "empty list", "empty axis", "unknown config field", "bad value"])
def test_a_bad_grid_file_is_one_line_before_anything_runs(tmp_path, text, words):
    path = ROOT / "images" / f".test-grid-{os.getpid()}.json"   # image paths start at the file's folder
    path.write_text(text.replace("images/", ""))
    try:
        with pytest.raises(spec.GridError) as info:
            spec.load(path)
    finally:
        path.unlink()
    for w in words:
        assert w in str(info.value), (w, str(info.value))
    assert "; " in str(info.value)


def test_the_command_line_says_a_bad_grid_and_a_dead_scheduler_in_a_line(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("contents: [x.jpg]\nstyles: [y.jpg]\nshet: {rows: style}\n")
    done = cli(bad)
    assert_one_line_error(done.returncode, done.stderr, "unknown field", "shet")
    good = tmp_path / "good.yaml"
    good.write_text(f"contents: [{ROOT}/images/content.jpg]\nstyles: [{ROOT}/images/swirls.jpg]\n")
    # a hang would end in subprocess.TimeoutExpired (the 5 s connect timeout and Python's start take far
    # less than 60 s); no wall-clock assert, which a loaded machine could fail
    done = cli(good, "--scheduler", f"tcp://127.0.0.1:{_free_port()}", "--out", tmp_path, timeout=60)
    assert_one_line_error(done.returncode, done.stderr, "no Dask scheduler answers", "--scheduler")
    assert not (tmp_path / "good").exists()


def test_yaml_reads_weights_written_1e6_as_numbers():
    assert spec.yaml_load("a: [1e6, 5e-3, 15, 0.5]") == {"a": [1e6, 5e-3, 15, 0.5]}


# ------------------------------------------------------------------------------ make experiments

def test_make_experiments_grid_cells_are_the_runs_notebooks_01_to_04_reuse(tmp_path, scheduler, monkeypatch):
    """make experiments runs the seed's presets as a grid (notebook/grid.py); each cell's config is
    the notebooks' own (settings.config) and compare.find_latest finds it, so they re-use it."""
    from nst_helpers import notebook
    from nst_helpers.notebook import compare, grid as nb_grid
    monkeypatch.delenv("NST_SMOKE", raising=False)
    for recipe in ("fast", "seed"):
        s = notebook.settings(size=64, steps=3, recipe=recipe, backbone="efficientnet_lite0", outputs=str(tmp_path))
        assert {c.labels["preset"]: c.config for c in nb_grid.experiments(s).cells()} == \
            {n: s.config(n) for n in compare.EXPERIMENTS}
    report = run_grid(nb_grid.experiments(s, presets=["exp2"]), client=scheduler[1], out=s.outputs, progress=False)
    assert report.ran == ["preset-exp2"]
    assert compare.find_latest(s, "exp2", "efficientnet_lite0") == tmp_path / "experiments" / "preset-exp2"


MMAPPED = """
import ctypes, json, sys
from nst_helpers.grid import task
class Info(ctypes.Structure):
    _fields_ = [(n, ctypes.c_size_t) for n in "arena ordblks smblks hblks hblkhd usmblks fsmblks uordblks fordblks keepcost".split()]
libc = ctypes.CDLL(None)
libc.mallinfo2.restype, libc.malloc.restype, libc.free.argtypes = Info, ctypes.c_void_p, [ctypes.c_void_p]
def mapped():   # is a 4 MiB buffer, allocated after one of its size was freed, a fresh mmap?
    libc.free(libc.malloc(4 << 20))
    before = libc.mallinfo2().hblks
    p = libc.malloc(4 << 20)
    fresh = libc.mallinfo2().hblks > before
    libc.free(p)
    return fresh
first = mapped()
print(json.dumps([first, task.keep_heap(), mapped()]))
"""


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="glibc's malloc")
@pytest.mark.parametrize("trim, want", [(None, [False, False, False]), ("65536", [True, True, False])])
def test_a_worker_started_with_dasks_trim_threshold_reuses_its_heap_again(trim, want):
    # Dask's nanny sets MALLOC_TRIM_THRESHOLD_, which switches off glibc's dynamic mmap threshold:
    # every large buffer is then a fresh mmap; keep_heap (run at each cell's start) undoes it
    env = {k: v for k, v in ENV.items() if k != "MALLOC_TRIM_THRESHOLD_"} | ({"MALLOC_TRIM_THRESHOLD_": trim} if trim else {})
    out = subprocess.run([sys.executable, "-c", MMAPPED], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    if "mallinfo2" in out.stderr:
        pytest.skip("this C library has no mallinfo2 (glibc 2.33 or later)")
    assert json.loads(out.stdout.strip().splitlines()[-1]) == want, out.stderr


def test_the_notebooks_grid_time_is_its_cells_estimates_added():
    from nst_helpers.notebook import grid as sweep
    from nst_helpers.runs import duration
    base = {"size": 256, "backbone": "vgg19_original"}
    one = tiny(axes={"style_weight": [1e6]}, base=base, device="cpu")
    four = tiny(axes={"style_weight": [1e6, 1e7], "tv_weight": [0, 10]}, base=base, device="cpu")
    [cell] = one.cells()
    each = duration.estimate(cell.config, "vgg19_original", "cpu", (256, 256))   # the bundled photo is square
    assert each > 10   # VGG19 at 256 px on a CPU: tens of seconds, so the words below are not all "< 1 s"
    assert sweep.time_note(one) == f"time: about {duration.in_words(each)} for the 1 cell here (runs/duration.py's estimates, added)"
    assert f"about {duration.in_words(4 * each)} for the 4 cells" in sweep.time_note(four)


def test_a_local_cluster_leaves_this_processs_environment_as_it_was(monkeypatch):
    """Dask's nanny writes OMP_NUM_THREADS=1 (and MALLOC_TRIM_THRESHOLD_) into the client's
    os.environ for its workers and left them there: every notebook kernel the suite started after
    a grid test ran on one thread (its checked numbers moved). The workers still get theirs."""
    from nst_helpers.grid import cluster
    monkeypatch.delenv("OMP_NUM_THREADS", raising=False)
    monkeypatch.setenv("MKL_NUM_THREADS", "3")
    before = {k: os.environ.get(k) for k in cluster.NANNY_ENVIRON}
    local, client, plan = cluster.start_local(2)
    try:
        assert {k: os.environ.get(k) for k in cluster.NANNY_ENVIRON} == before
        assert set(client.run(lambda: os.environ.get("OMP_NUM_THREADS")).values()) == {str(plan["torch_threads"])}
    finally:
        client.close()
        local.close()
