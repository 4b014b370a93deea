"""Nothing lost, round three (issue 30): the grid, video, training and stylize commands under faults
and bad input. Each test names the cause it covers; each failed on the code before its fix.

Cheapest settings: the fast recipe on EfficientNet-Lite0 at 64 px, a few steps; grids run on an
in-process Dask cluster of one worker thread (no worker processes to start)."""
import json
from pathlib import Path

import pytest

from nst_helpers import preset
from nst_helpers.core.images import load_image, save_image
from nst_helpers.feedforward.train import TrainConfig, train
from nst_helpers.grid import Grid, run_grid, store
from nst_helpers.runs import kind
from nst_helpers.video import stylise, synthetic
from test_video import StopAt

ROOT = Path(__file__).resolve().parents[1]
STYLE = str(ROOT / "images" / "style.jpg")
BASE = dict(size=64, steps=3, backbone="efficientnet_lite0")


def tiny_grid(name: str, **over) -> Grid:
    fields = dict(contents=["images/content.jpg"], styles=["images/style.jpg"], presets=["fast"], base=dict(BASE),
                  root=ROOT)
    return Grid(name, **{**fields, **over})


@pytest.fixture(scope="module")
def client():
    """A Dask client of one worker thread in this process (no dashboard)."""
    from distributed import Client, LocalCluster
    cluster = LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None)
    dask = Client(cluster)
    yield dask
    dask.close()
    cluster.close()


# ------------------------------------------------------------------------------ 1. what belongs to whom

@pytest.fixture
def photos(tmp_path):
    folder = tmp_path / "photos"
    photo = load_image(ROOT / "images" / "content.jpg", max_size=200)
    for i, (y, x) in enumerate(((0, 0), (20, 40), (40, 10))):
        save_image(photo[..., y:y + 96, x:x + 110], folder / f"p{i}.png")
    return folder


def test_an_interrupted_video_and_training_survive_a_grid_of_their_name_and_still_resume(
        tmp_path, photos, effnet, client):
    out = tmp_path / "out"
    clip = synthetic.make_clip(tmp_path / "clip.mp4", frames=3, size=96)
    lite = preset("fast", size=64, steps=12, backbone="efficientnet_lite0")
    video = stylise.stylise(clip, STYLE, lite, out=out, backbone=effnet, progress=False, stop_event=StopAt(14))
    training = train(TrainConfig(style=STYLE, data=str(photos), steps=6, size=48, batch=2, width=4, blocks=1,
                                 style_size=64, checkpoint_every=2, preview_every=4),
                     out=out, backbone=effnet, progress=False, stop_event=StopAt(3))
    assert video.stop_reason == training.stop_reason == "stopped"
    assert video.folder.parent == out / "video" and training.folder.parent == out / "train"
    assert kind.of(video.folder) == kind.VIDEO and kind.of(training.folder) == kind.TRAINING
    for name in ("video", "train"):   # a grid file video.yaml or train.yaml: its name is the file's stem
        report = run_grid(tiny_grid(name), client=client, out=out, progress=False)
        assert report.ran == ["preset-fast"] and not report.failed, report.summary()
        assert kind.of(out / name / "preset-fast") == kind.GRID_CELL
        assert [p.name for p in store.finished(out / name)] == ["preset-fast"]   # the grid's own cells only
    assert video.folder.is_dir() and training.folder.is_dir()
    assert stylise.resume(video.folder, backbone=effnet, progress=False).frames == 3
    again = train(None, backbone=effnet, progress=False, resume=training.folder)
    assert again.stop_reason == "completed" and len(again.history) == 6


def test_a_grid_tidies_only_its_own_leftovers_and_never_replaces_another_commands_folder(tmp_path):
    root = tmp_path / "video"
    foreign = root / "20260101-000000-abcdef"         # a video cut short: settings, no DONE
    foreign.mkdir(parents=True)
    (foreign / "config.json").write_text(json.dumps({"clip": "c.mp4", "config": {}}))
    unmarked = root / "20260101-000001-abcdef"        # a folder with no marker and no grid's config
    unmarked.mkdir()
    (unmarked / "config.json").write_text("{}")
    partial = root / ".preset-fast.partial-abcdef"    # a killed client's partial cell
    partial.mkdir()
    cut = root / "style_weight-1e6"                   # this grid's cell without its DONE
    cut.mkdir()
    kind.mark(cut, kind.GRID_CELL)
    assert sorted(store.tidy(root)) == sorted([partial, cut])
    assert foreign.is_dir() and unmarked.is_dir()
    with pytest.raises(FileExistsError, match="another command's run folder.*another --out"):
        store.write_cell(root, foreign.name, {"DONE": b"", "config.json": b"{}"})
    assert json.loads((foreign / "config.json").read_text())["clip"] == "c.mp4"
    assert not [p for p in root.iterdir() if store.PARTIAL in p.name]


# ------------------------------------------------------------------------------ 2. the dashboard

def _listening() -> set:
    """(pid, ip, port) of every TCP socket listening in this process and its children, as the OS says."""
    import psutil
    me = psutil.Process()
    return {(p.pid, c.laddr.ip, c.laddr.port) for p in (me, *me.children(recursive=True))
            for c in p.net_connections(kind="inet") if c.status == psutil.CONN_LISTEN}


def test_a_grid_on_a_local_cluster_listens_on_127_0_0_1_only(tmp_path):
    from nst_helpers.cli.grid import DASHBOARD
    from nst_helpers.grid import cluster
    assert DASHBOARD == cluster.DASHBOARD == "127.0.0.1:0"   # the command line's default is the cluster's
    before, seen = _listening(), []
    report = run_grid(tiny_grid("listen"), workers=1, out=tmp_path, progress=False,
                      on_cell=lambda report, cell: seen.append(_listening() - before))   # while the cluster is up
    assert report.ran == ["preset-fast"], report.summary()
    [opened] = seen
    port = int(report.dashboard.rsplit(":", 1)[1].split("/")[0])
    assert port in {p for _, _, p in opened} and len({pid for pid, _, _ in opened}) >= 2   # scheduler + worker
    assert {ip for _, ip, _ in opened} <= {"127.0.0.1", "::1"}, opened


# ------------------------------------------------------------------------------ 3. names that become folders

def _config_file(tmp_path, **fields) -> Path:
    """A --config file for the cheapest run there is, its images named in it."""
    path = tmp_path / "cfg.json"
    path.write_text(json.dumps({"content": str(ROOT / "images" / "content.jpg"), "style": STYLE, "steps": 1,
                                "size": 32, "backbone": "efficientnet_lite0", **fields}))
    return path


@pytest.mark.parametrize("name", ["../../x", "/tmp/nst-abs-name", "..", ".", "a/b", 5, None],
                         ids=["parent of parent", "absolute", "dotdot", "dot", "nested", "number", "null"])
def test_a_configs_name_that_is_no_plain_folder_name_is_one_line_and_writes_nothing(name, tmp_path, capsys):
    from nst_helpers.cli import main
    from test_bad_input import assert_one_line_error
    path = _config_file(tmp_path, name=name)
    code = main(["--config", str(path), "--out", str(tmp_path / "a" / "b" / "out"), "--no-progress"])
    assert_one_line_error(code, capsys.readouterr().err, "--config", "'name'", "folder", "use one plain name")
    assert [p.name for p in tmp_path.iterdir()] == ["cfg.json"] and not Path("/tmp/nst-abs-name").exists()


@pytest.mark.parametrize("name", ["..", ".", "/abs", "../x", 5], ids=["dotdot", "dot", "absolute", "up", "number"])
def test_a_grid_name_that_is_no_plain_folder_name_is_refused_before_anything_runs(name):
    from nst_helpers.grid import GridError, from_dict
    with pytest.raises(GridError, match="grid's name .*folder.*use"):
        from_dict({"name": name, "contents": ["images/content.jpg"], "styles": ["images/style.jpg"]}, ROOT)


def test_a_grid_file_whose_stem_is_a_dot_is_refused(tmp_path):
    from nst_helpers.grid import GridError, load
    path = tmp_path / "..json"   # its stem, the grid's default name, is "."
    path.write_text(json.dumps({"contents": [str(ROOT / "images/content.jpg")], "styles": [STYLE]}))
    with pytest.raises(GridError, match=r"grid's name '\.' is not a plain folder name"):
        load(path)


# ------------------------------------------------------------------------------ 6. values checked up front

@pytest.mark.parametrize("fields, words", [
    ({"seed": "abc", "init": "noise"}, ["'seed'", "whole number"]),
    ({"seed": 1.5, "init": "noise"}, ["'seed'", "whole number"]),
    ({"seed": 10**23, "init": "noise"}, ["'seed'", "2**63 - 1"]),
    ({"seed": True, "init": "noise"}, ["'seed'", "whole number"]),
    ({"mixed_precision": "no"}, ["'mixed_precision'", "true or false"]),
], ids=["seed text", "seed fraction", "seed huge", "seed bool", "mixed_precision no"])
def test_a_bad_value_in_a_config_file_is_one_line_before_a_run(fields, words, tmp_path, capsys):
    from nst_helpers.cli import main
    from test_bad_input import assert_one_line_error
    path = _config_file(tmp_path, **fields)
    code = main(["--config", str(path), "--out", str(tmp_path / "out"), "--no-progress"])
    assert_one_line_error(code, capsys.readouterr().err, "--config", *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("argv, words", [
    (["--seed", str(10**23), "--init", "noise"], ["--seed:", "2**63 - 1"]),
    (["train", "--seed", str(10**23)], ["seed", "2**63 - 1"]),
], ids=["run", "train"])
def test_a_seed_too_big_for_torch_is_one_line_on_the_command_line(argv, words, tmp_path, capsys):
    from nst_helpers.cli import main
    from test_bad_input import assert_one_line_error
    images = ["--style", STYLE] + ([] if argv[0] == "train" else ["--content", str(ROOT / "images/content.jpg")])
    code = main([*argv, *images, "--out", str(tmp_path / "out"), "--no-progress"])
    assert_one_line_error(code, capsys.readouterr().err, *words)
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("fields, words", [
    ({"base": {"seed": "abc"}}, ["'seed'", "whole number"]),
    ({"seeds": [1.5]}, ["'seed'", "whole number"]),
    ({"base": {"mixed_precision": "no"}}, ["'mixed_precision'", "true or false"]),
    ({"device": "toaster"}, ["device 'toaster' is not a device name", "cpu, cuda"]),
    ({"device": 3}, ["device 3 is not a device name"]),
], ids=["seed text", "seed fraction", "mixed_precision no", "device toaster", "device number"])
def test_a_bad_value_in_a_grid_is_refused_when_it_is_read(fields, words):
    from nst_helpers.grid import GridError, from_dict
    with pytest.raises(GridError) as info:
        from_dict({"contents": ["images/content.jpg"], "styles": ["images/style.jpg"], **fields}, ROOT)
    assert all(w in str(info.value) for w in words) and "; " in str(info.value), str(info.value)


def test_a_grid_on_cuda_is_refused_at_once_where_no_worker_has_a_gpu(tmp_path, client):
    import time
    import torch
    from nst_helpers.grid.cluster import ClusterError
    grid = tiny_grid("gpu", device="cuda")
    with pytest.raises(ClusterError, match="no worker of the cluster offers a GPU"):   # it waited forever
        run_grid(grid, client=client, out=tmp_path, progress=False)
    if torch.cuda.is_available():
        return
    t0 = time.perf_counter()
    with pytest.raises(ClusterError, match="this machine has 0 CUDA device"):
        run_grid(grid, workers=1, out=tmp_path, progress=False)
    assert time.perf_counter() - t0 < 5   # before any worker starts


def test_video_fps_past_what_a_player_shows_is_one_line_before_a_folder(tmp_path, capsys):
    from nst_helpers.cli import main
    from test_bad_input import assert_one_line_error
    clip = synthetic.make_clip(tmp_path / "clip.mp4", frames=2, size=64)
    code = main(["video", "--content", str(clip), "--style", STYLE, "--fps", "1e9", "--size", "32",
                 "--backbone", "efficientnet_lite0", "--out", str(tmp_path / "out"), "--no-progress"])
    assert_one_line_error(code, capsys.readouterr().err, "--fps", "1e+09", "at most 1000", "clip's")
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("width, blocks", [(4, 10**7), (10**6, 1), (4, 0), (4, "5")])
def test_a_model_file_whose_network_is_not_one_train_writes_is_refused_before_it_is_built(width, blocks, tmp_path,
                                                                                          capsys):
    import torch
    from nst_helpers.cli import main
    from nst_helpers.feedforward import stylize as ff
    from nst_helpers.feedforward.net import TransformNet
    from test_bad_input import assert_one_line_error
    model = ff.save_model(TransformNet(4, 1), tmp_path / "model.pt")
    torch.save({**torch.load(model, weights_only=True), "width": width, "blocks": blocks}, model)
    code = main(["stylize", str(ROOT / "images" / "content.jpg"), "--model", str(model), "--out", str(tmp_path / "o")])
    assert_one_line_error(code, capsys.readouterr().err, "is not a model `train` could write",
                          "width" if width != 4 else "blocks", "give the model.pt")
    with pytest.raises(ValueError, match="blocks must be a whole number from 1 to 64"):
        TrainConfig(style=STYLE, blocks=10**7)


# ------------------------------------------------------------------------------ 7. every cell failed

def test_when_every_cell_fails_the_cells_errors_are_shown(tmp_path, client):
    grid = tiny_grid("allfail", axes={"tile_size": [64, 128]})   # tiles are VGG19's: refused on Lite0 as each run starts
    report = run_grid(grid, client=client, out=tmp_path, progress=False)
    assert report.ran == [] and sorted(report.failed) == ["tile_size-128", "tile_size-64"], report.summary()
    assert all("tile" in error for error in report.failed.values()) and "failed tile_size-64" in report.summary()
    assert json.loads((tmp_path / "allfail" / store.FAILED).read_text()) == report.failed


# ------------------------------------------------------------------------------ 8. bounded reads

def _settings_file(kind: str, tmp_path: Path, suffix: str) -> str:
    import os
    if kind == "fifo":
        path = tmp_path / f"fifo{suffix}"
        os.mkfifo(path)
        return str(path)
    if kind == "big":
        path = tmp_path / f"big{suffix}"
        path.write_text("{" + " " * (2 << 20) + "}")   # valid JSON and YAML, 2 MiB
        return str(path)
    return "/dev/zero"


@pytest.mark.parametrize("face, kind, words", [
    ("--config", "fifo", ["is a named pipe (FIFO), not a regular file", "JSON file"]),
    ("--config", "zero", ["is a character device, not a regular file"]),
    ("--config", "big", ["more than 1024 kB"]),
    ("grid", "fifo", ["grid file", "is a named pipe (FIFO), not a regular file", ".yaml or .json"]),
    ("grid", "zero", ["grid file", "is a character device"]),
    ("grid", "big", ["grid file", "more than 1024 kB"]),
])
def test_a_settings_file_that_is_no_regular_file_or_too_big_is_one_line_at_once(face, kind, words, tmp_path):
    import subprocess
    import sys
    from test_bad_input import assert_one_line_error
    path = _settings_file(kind, tmp_path, ".json" if face == "--config" else ".yaml")
    argv = ["--config", path, "--content", "x.jpg", "--style", "y.jpg"] if face == "--config" else ["grid", path]
    done = subprocess.run([sys.executable, "-m", "nst_helpers", *argv, "--out", str(tmp_path / "out")], cwd=ROOT,
                          capture_output=True, text=True, timeout=60)   # a FIFO waited for a writer forever
    assert_one_line_error(done.returncode, done.stderr, *words)


def test_a_grid_of_too_many_cells_is_refused_with_its_count():
    import time
    from nst_helpers.grid import GridError, from_dict
    t0 = time.perf_counter()
    with pytest.raises(GridError, match=r"the grid has 10,100 cells \(100 style_weight x 101 tv_weight\), more than "
                                        r"the 10,000 one grid runs; shorten its axes"):
        from_dict({"contents": ["images/content.jpg"], "styles": ["images/style.jpg"],
                   "axes": {"style_weight": list(range(1, 101)), "tv_weight": list(range(101))}}, ROOT)
    assert time.perf_counter() - t0 < 2   # counted, not expanded


# ------------------------------------------------------------------------------ 10. stylize never overwrites silently

@pytest.mark.parametrize("case, words", [
    ("same name", ["would both be written as", "x.png", "rename one"]),
    ("out is an input folder", ["holds the photos given", "would overwrite", "give another folder"]),
    ("out is an input's folder", ["holds the photos given", "would overwrite"]),
    ("out is a file", ["is a file", "give a folder"]),
])
def test_stylize_refuses_an_out_that_would_overwrite(case, words, tmp_path, capsys):
    import torch
    from nst_helpers.cli import main
    from nst_helpers.feedforward import stylize as ff
    from nst_helpers.feedforward.net import TransformNet
    from test_bad_input import assert_one_line_error
    torch.manual_seed(0)
    model = ff.save_model(TransformNet(4, 1), tmp_path / "model.pt")
    photo = load_image(ROOT / "images" / "content.jpg", max_size=48)
    for folder, suffix in (("a", ".jpg"), ("b", ".png")):
        save_image(photo, tmp_path / folder / f"x{suffix}")
    (tmp_path / "file").write_text("not a folder")
    argv = {"same name": [tmp_path / "a", tmp_path / "b", "--out", tmp_path / "o"],
            "out is an input folder": [tmp_path / "b", "--out", tmp_path / "b"],
            "out is an input's folder": [tmp_path / "b" / "x.png", "--out", tmp_path / "b"],
            "out is a file": [tmp_path / "a", "--out", tmp_path / "file"]}[case]
    before = (tmp_path / "b" / "x.png").read_bytes()
    code = main(["stylize", *map(str, argv), "--model", str(model)])
    assert_one_line_error(code, capsys.readouterr().err, *words)
    assert (tmp_path / "b" / "x.png").read_bytes() == before and not (tmp_path / "o").exists()
    assert (tmp_path / "file").read_text() == "not a folder"
