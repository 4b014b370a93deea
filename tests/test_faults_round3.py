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
