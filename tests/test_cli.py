import json
import subprocess
import sys

import pytest

from nst_helpers.cli.args import build_parser

CLI = [sys.executable, "-m", "nst_helpers"]


def test_help_lists_every_option_with_its_default():
    text = build_parser().format_help()
    for opt in ("--content", "--style", "--preset", "--steps", "--size", "--backbone", "--out", "--device",
                "--content-weight", "--style-weight"):
        assert opt in text
    assert "(default: None)" not in text  # options without a default say what happens instead
    assert "(default: fast)" in text and "(default: auto)" in text and "(default: outputs)" in text
    for choice in ("baseline", "exp1", "exp2", "exp3", "fast", "efficientnet_lite0", "vgg19"):
        assert choice in text


@pytest.mark.parametrize("args, words", [
    (["--content", "nope.jpg", "--style", "images/swirls.jpg"], "nope.jpg"),
    (["--content", "images", "--style", "images/swirls.jpg"], "directory"),
    (["--content", "images/content.jpg", "--style", "images/swirls.jpg", "--steps", "0"], "steps"),
    (["--content", "images/content.jpg", "--style", "images/swirls.jpg", "--preset", "exp9"], "exp9"),
])
def test_bad_arguments_give_one_clear_line(args, words):
    p = subprocess.run(CLI + args, capture_output=True, text=True)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and words in p.stderr
    assert len([line for line in p.stderr.splitlines() if line.startswith("error") or ": error:" in line]) == 1


def test_a_tiny_run_writes_a_run_folder(tmp_path):
    out = tmp_path / "new" / "runs"   # created by the CLI
    p = subprocess.run(CLI + ["--content", "images/content.jpg", "--style", "images/swirls.jpg", "--preset", "fast",
                              "--steps", "3", "--size", "48", "--backbone", "efficientnet_lite0", "--style-weight", "2e5",
                              "--content-weight", "3", "--device", "cpu", "--out", str(out), "--no-progress"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    folders = list((out / "fast").iterdir())
    assert len(folders) == 1 and (folders[0] / "final.png").is_file() and (folders[0] / "progress.gif").is_file()
    assert (folders[0] / "DONE").is_file() and not [f for f in folders[0].iterdir() if f.name.startswith(".")]
    meta = json.loads((folders[0] / "config.json").read_text())
    assert (meta["config"]["style_weight"], meta["config"]["content_weight"], meta["device"]) == (2e5, 3.0, "cpu")
    assert str(folders[0]) in p.stdout and "backbone: efficientnet_lite0" in p.stdout
