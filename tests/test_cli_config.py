"""The whole configuration from the command line (issue 16, item 9): a flag for each common field,
and --config FILE.json for the rest. A run folder's config.json fed back repeats the run bit for
bit; paths in a config file are relative to the file; a typed flag overrides the file."""
import json
import shutil

import pytest
import torch

from nst_helpers.cli import main
from nst_helpers.runs import folders
from test_bad_input import CONTENT, STYLE, assert_one_line_error, rows, run_cli
from test_faults_storage import TINY


def only_folder(root):
    (folder,) = root.glob("*/*")
    assert folders.is_complete(folder)
    return folder


def test_a_run_folders_config_json_repeats_the_run_bit_for_bit(tmp_path, capsys):
    flags = ["--steps", "5", "--style-layers", "conv1_1=0.5,conv3_1=1", "--tv-weight", "10", "--lr", "0.8",
             "--preserve-colour", "match"]
    assert main([*TINY, *flags, "--out", str(tmp_path / "a")]) == 0
    first = only_folder(tmp_path / "a")
    assert main(["--config", str(first / "config.json"), "--no-progress", "--out", str(tmp_path / "b")]) == 0
    again = only_folder(tmp_path / "b")
    assert torch.equal(torch.load(first / "final.pt"), torch.load(again / "final.pt"))
    cfg = json.loads((again / "config.json").read_text(encoding="utf-8"))["config"]
    assert cfg["style_layers"] == {"conv1_1": 0.5, "conv3_1": 1.0} and cfg["tv_weight"] == 10 and cfg["lr"] == 0.8
    capsys.readouterr()


def test_paths_in_a_config_file_are_relative_to_it_and_flags_override_it(tmp_path, capsys):
    where = tmp_path / "settings"
    where.mkdir()
    shutil.copy(CONTENT, where / "photo.jpg")
    shutil.copy(STYLE, where / "painting.jpg")
    (where / "run.json").write_text(json.dumps({"content": "photo.jpg", "style": "painting.jpg", "name": "mine",
                                                "steps": 3, "size": 64, "backbone": "efficientnet_lite0",
                                                "style_weight": 1e5}), encoding="utf-8")
    code = main(["--config", str(where / "run.json"), "--steps", "2", "--no-progress", "--out", str(tmp_path / "o")])
    assert code == 0, capsys.readouterr().err
    meta = json.loads((only_folder(tmp_path / "o") / "config.json").read_text(encoding="utf-8"))
    assert meta["content"] == str((where / "photo.jpg").resolve()) and meta["config"]["name"] == "mine"
    assert meta["config"]["steps"] == 2 and meta["config"]["style_weight"] == 1e5   # the flag over the file


def write(tmp_path, text):
    path = tmp_path / "cfg.json"
    path.write_text(text, encoding="utf-8")
    return path


CONFIG_FILES = [  # id, the file's text (None: no file), extra flags, problem words, fix words
    ("missing file", None, [], ["--config", "cannot read it (No such file or directory)"], ["a run folder's config.json"]),
    ("not JSON", "{steps: 3", [], ["--config", "not valid JSON"], ["fix it"]),
    ("a list", "[1, 2]", [], ["--config", "a JSON object is needed"], ["not a list"]),
    ("a bad field value", '{"steps": -1}', [], ["--config", "config field 'steps'", "got -1"], ["integer >= 1"]),
    ("an unknown field", '{"stepz": 3}', [], ["--config", "unknown config field(s) ['stepz']"], ["known fields"]),
    ("with --preset", '{"steps": 3}', ["--preset", "exp1"], ["--preset and --config both give the settings"], ["use one"]),
]


@pytest.mark.parametrize("name, text, extra, problem, fix", rows(CONFIG_FILES))
def test_a_bad_config_file_is_one_line(name, text, extra, problem, fix, tmp_path, capsys, monkeypatch):
    path = write(tmp_path, text) if text is not None else tmp_path / "none.json"
    code, _, err = run_cli(["--config", path, "--content", CONTENT, "--style", STYLE, *extra], capsys, monkeypatch,
                           allow_images=False)
    assert_one_line_error(code, err, *problem, *fix)


@pytest.mark.parametrize("flags, words", [
    (["--style-layers", "conv1_1"], ["--style-layers", "'conv1_1' is not layer=weight", "conv1_1=0.2,conv3_1=1"]),
    (["--style-layers", "conv9_1=1"], ["--style-layers", "unknown layer 'conv9_1'"]),
    (["--lr", "0"], ["--lr: must be positive"]),
    (["--optimizer", "sgd"], ["--optimizer 'sgd' is not an optimizer", "adam, lbfgs"]),
    (["--tv-weight", "-1"], ["--tv-weight", "-1 is not a finite number >= 0"]),
])
def test_bad_field_flags_are_one_line(flags, words, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--out", tmp_path, *flags], capsys, monkeypatch,
                           allow_images=False)
    assert_one_line_error(code, err, *words)
