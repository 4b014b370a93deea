import json
from pathlib import Path

import pytest
from PIL import Image

from nst_helpers import load_run, preset, run, save_run
from nst_helpers.runs import folders as runs
from nst_helpers.runs.folders import find_runs, read_history


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


def test_every_file_is_renamed_into_place_and_done_comes_last(tmp_path, tiny_result, monkeypatch):
    import os
    renames = []
    real = os.replace

    def recording(src, dst):
        renames.append((Path(src), Path(dst)))
        real(src, dst)

    monkeypatch.setattr(os, "replace", recording)
    folder = save_run(tiny_result, root=tmp_path)
    written = sorted(p.relative_to(folder) for p in folder.rglob("*") if p.is_file())
    assert sorted(dst.relative_to(folder) for _, dst in renames) == written  # nothing written in place
    for src, dst in renames:  # from a hidden temporary name in the same folder
        assert src.parent == dst.parent and src.name.startswith(f".{dst.name}.") and not src.exists()
    assert renames[-1][1] == folder / runs.DONE and runs.is_complete(folder)


def test_incomplete_or_foreign_folders_are_skipped_not_fatal(tmp_path, tiny_result):
    good = save_run(tiny_result, root=tmp_path)
    cut = save_run(tiny_result, root=tmp_path)
    (cut / runs.DONE).unlink()                       # as if the save had been killed before its end
    (cut / "content.png").unlink()
    junk = tmp_path / "exp1" / "20990101-000000-abcdef"
    junk.mkdir()
    (junk / "config.json").write_text("{not json")
    (junk / runs.DONE).write_text("")
    (tmp_path / "exp1" / "20990101-000001-stray.txt").write_text("a file, not a folder")
    assert not runs.is_complete(cut) and runs.is_complete(good)
    assert find_runs("exp1", root=tmp_path) == [good]
    with pytest.raises(runs.IncompleteRunError, match=rf"{cut.name}.*incomplete.*run again"):
        load_run(cut)
    assert load_run(good)["config"] == tiny_result.config


def test_comparison_folders_are_marked_complete_last(tmp_path, tiny_result):
    from types import SimpleNamespace

    from matplotlib.figure import Figure

    from nst_helpers.notebook import compare as experiments
    s = SimpleNamespace(outputs=tmp_path)
    run_folder = save_run(tiny_result, root=tmp_path)
    loaded = {"exp1": load_run(run_folder)}
    rows = {"exp1": dict.fromkeys(experiments.metrics.METRICS, 0.5)}
    folder = experiments.save_comparison(s, loaded, rows, [], {"grid": Figure()})
    assert runs.is_complete(folder) and runs.complete_folders(tmp_path / "comparison") == [folder]
    assert json.loads((folder / "runs.json").read_text()) == {"exp1": str(run_folder)}
    assert (folder / "metrics.csv").read_text().splitlines()[1].startswith("exp1,0.5")
    assert Image.open(folder / "grid.png").format == "PNG"
    later = tmp_path / "comparison" / "29990101-000000-ffffff"   # newer but unfinished: not the latest
    later.mkdir()
    assert runs.complete_folders(tmp_path / "comparison") == [folder]
