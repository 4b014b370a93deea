import subprocess
import sys

import pytest

from nst_helpers.cli import build_parser

CLI = [sys.executable, "-m", "nst_helpers"]


def test_help_lists_every_option_with_its_default():
    text = build_parser().format_help()
    for opt in ("--content", "--style", "--preset", "--steps", "--size", "--backbone", "--out"):
        assert opt in text
    assert "(default: baseline)" in text and "(default: auto)" in text and "(default: outputs)" in text
    for choice in ("baseline", "exp1", "exp2", "exp3", "fast", "efficientnet_lite0", "vgg19"):
        assert choice in text


@pytest.mark.parametrize("args, words", [
    (["--content", "nope.jpg", "--style", "images/style.jpg"], "nope.jpg"),
    (["--content", "images", "--style", "images/style.jpg"], "directory"),
    (["--content", "images/content.jpg", "--style", "images/style.jpg", "--steps", "0"], "steps"),
    (["--content", "images/content.jpg", "--style", "images/style.jpg", "--preset", "exp9"], "exp9"),
])
def test_bad_arguments_give_one_clear_line(args, words):
    p = subprocess.run(CLI + args, capture_output=True, text=True)
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and words in p.stderr
    assert len([line for line in p.stderr.splitlines() if line.startswith("error") or ": error:" in line]) == 1


def test_a_tiny_run_writes_a_run_folder(tmp_path):
    p = subprocess.run(CLI + ["--content", "images/content.jpg", "--style", "images/style.jpg", "--preset", "fast",
                              "--steps", "3", "--size", "48", "--backbone", "efficientnet_lite0",
                              "--out", str(tmp_path), "--no-progress"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    folders = list((tmp_path / "fast").iterdir())
    assert len(folders) == 1 and (folders[0] / "final.png").is_file() and (folders[0] / "progress.gif").is_file()
    assert str(folders[0]) in p.stdout and "backbone: efficientnet_lite0" in p.stdout
