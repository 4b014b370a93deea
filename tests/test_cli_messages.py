"""The command line's own words: --help without noise, one line for a bad choice."""
import re
import subprocess
import sys

import pytest

from nst_helpers.cli import main
from nst_helpers.cli.args import build_parser
from nst_helpers.core.config import BACKBONES, PRESETS


def option_help(text: str) -> dict:
    """{'--steps': 'optimiser steps (default: ...)', ...} from --help's options section."""
    body = text.split("options:", 1)[1].split("\n\n", 1)[0]
    entries = re.split(r"\n  (?=-)", "\n" + body)
    return {e.split()[0].rstrip(","): " ".join(e.split()) for e in entries if e.strip()}


def test_help_shows_each_default_once_and_only_where_it_says_something():
    helps = option_help(build_parser().format_help())
    assert {"--content", "--style", "--steps", "--snapshot-every", "--no-progress"} <= helps.keys()
    assert "--init noise" in helps["--seed"]  # the only start a seed changes
    for flag, text in helps.items():
        assert text.count("(default") <= 1, text
        assert "(default: None)" not in text and "(default: False)" not in text, text
    assert "(default" not in helps["--content"] and "(default" not in helps["--style"]  # required
    assert "(default" not in helps["--no-progress"]
    assert helps["--steps"].endswith("(default: the preset's)")
    assert helps["--out"].endswith("(default: outputs)") and helps["--preset"].endswith("(default: fast)")


@pytest.mark.parametrize("flag, value, noun, choices", [("--preset", "foo", "preset", PRESETS),
                                                        ("--backbone", "resnet50", "backbone", BACKBONES)])
def test_a_bad_choice_is_one_line_naming_the_flag_and_the_choices(flag, value, noun, choices, capsys, tmp_path):
    code = main(["--content", str(tmp_path / "none.jpg"), "--style", str(tmp_path / "none.jpg"), flag, value])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err == f"error: {flag} '{value}' is not a {noun}; choose one of {', '.join(choices)}\n"


def test_other_argument_errors_name_the_flag_without_argparse_words(capsys):
    assert main(["--content", "a.jpg", "--style", "b.jpg", "--steps", "x"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --steps: 'x' is not a whole number; give one like 300")
    assert "argument" not in err and err.count("\n") == 1


def test_the_real_command_prints_no_usage_block():
    p = subprocess.run([sys.executable, "-m", "nst_helpers", "--content", "a.jpg", "--style", "b.jpg", "--preset", "foo"],
                       capture_output=True, text=True)
    assert p.returncode == 2 and "usage:" not in p.stderr
    assert p.stderr.splitlines() == ["error: --preset 'foo' is not a preset; choose one of baseline, exp1, exp2, exp3, fast"]
