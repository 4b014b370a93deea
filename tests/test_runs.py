import json

import pytest
from PIL import Image

from nst_helpers import load_run, preset, run, save_run
from nst_helpers.runs import find_runs, read_history


@pytest.fixture(scope="module")
def tiny_result(effnet, tiny_pair):
    cfg = preset("exp1", steps=4, size=64, snapshot_every=2, backbone="efficientnet_lite0")
    return run(*tiny_pair, cfg, backbone=effnet, progress=False)


def test_run_folder_has_every_file(tmp_path, tiny_result):
    folder = save_run(tiny_result, root=tmp_path)
    assert folder.parent == tmp_path / "exp1"
    for name in ("config.json", "history.csv", "final.png", "comparison.png", "loss.png",
                 "progress.gif", "snapshots/step_00002.png", "snapshots/step_00004.png"):
        assert (folder / name).is_file(), name
    meta = json.loads((folder / "config.json").read_text())
    assert meta["backbone"] == "efficientnet_lite0" and meta["device"] == "cpu"
    assert meta["config"]["style_weight"] == 5e5 and meta["versions"]["torch"]
    gif = Image.open(folder / "progress.gif")
    assert gif.n_frames == len(tiny_result.snapshots) == 2
    comp = Image.open(folder / "comparison.png")
    assert comp.width > 2.5 * comp.height  # three panels side by side


def test_history_round_trips_and_folders_are_never_reused(tmp_path, tiny_result):
    a, b = save_run(tiny_result, root=tmp_path), save_run(tiny_result, root=tmp_path)
    assert a != b
    hist = read_history(a)
    assert [r["step"] for r in hist] == [1, 2, 3, 4]
    for mine, saved in zip(tiny_result.history, hist):
        assert saved["total"] == pytest.approx(mine["total"], rel=1e-6)
    loaded = load_run(a)
    assert loaded["config"] == tiny_result.config
    assert (loaded["image"] - tiny_result.image).abs().max() <= 1 / 255 + 1e-6
    assert find_runs("exp1", root=tmp_path) == [b, a] or find_runs("exp1", root=tmp_path) == [a, b]
    assert find_runs("exp1", root=tmp_path, backbone="efficientnet_lite0", steps=4)
    assert find_runs("exp1", root=tmp_path, steps=5) == []
