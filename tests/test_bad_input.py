"""The bad-input table: every bad input gets an error that names the problem and the fix; on
the command line that is one line `error: ...`, exit code 2, no traceback, and no run started.
Then the unusual inputs that must work.
"""
import io
import json
import math
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst_helpers.core import memory
from nst_helpers import backbones
from nst_helpers.core import images, transfer
from nst_helpers.backbones import load_backbone
from nst_helpers.core.memory import NotEnoughMemory
from nst_helpers.cli import main
from nst_helpers.core.config import StyleConfig, preset
from nst_helpers.core.images import ImageError, load_image

ROOT = Path(__file__).resolve().parents[1]
STYLE = str(ROOT / "images" / "swirls.jpg")
CONTENT = str(ROOT / "images" / "content.jpg")


def rows(table):
    """Table rows (plain tuples or marked pytest.params) as params named by their first column."""
    return [pytest.param(*r.values, id=r.values[0], marks=r.marks) if hasattr(r, "marks") else pytest.param(*r, id=r[0])
            for r in table]


# ------------------------------------------------------------------------------ helpers


def _png_header_only(path: Path, w: int, h: int) -> None:
    """A PNG that *claims* w x h (1-bit grey) with no pixel data: a decompression bomb's header."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))


def _smooth(h: int, w: int) -> np.ndarray:
    yy, xx = np.mgrid[0:h, 0:w]
    return np.round(127.5 + 100 * np.stack([np.sin(xx / 9), np.cos(yy / 7), np.sin((xx + yy) / 13)], 2)).astype(np.uint8)


def make_bad_file(kind: str, tmp: Path) -> Path:
    if kind == "missing":
        return tmp / "nope.jpg"
    if kind == "directory":
        (tmp / "photos.jpg").mkdir()
        return tmp / "photos.jpg"
    path = tmp / {"empty": "empty.jpg", "truncated": "cut.png", "text": "notes.png", "html": "page.jpg",
                  "bomb": "huge.png", "one_pixel": "dot.png", "too_thin": "strip.png"}[kind]
    if kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        buf = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 256, (128, 128, 3), dtype=np.uint8)).save(buf, "PNG")
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif kind == "text":
        path.write_text("this is not a picture\n" * 20)
    elif kind == "html":
        path.write_text("<!doctype html><html><body>403 Forbidden</body></html>")
    elif kind == "bomb":
        _png_header_only(path, 20000, 20000)
    elif kind == "one_pixel":
        Image.new("RGB", (1, 1), (200, 10, 10)).save(path)
    elif kind == "too_thin":
        Image.fromarray(_smooth(40, 1000)).save(path)  # 25:1: 256 px long is 10 px thin
    return path


def run_cli(argv, capsys, monkeypatch, allow_run=False, allow_images=True):
    """cli.main in-process: (exit code, stdout, stderr). Unless allowed, loading a backbone or
    starting an optimisation (or reading the images) fails the test: a bad input must be
    refused before any of them."""
    def forbidden(*a, **k):
        raise AssertionError("work started despite the bad input")
    if not allow_run:
        monkeypatch.setattr(transfer, "run", forbidden)
        monkeypatch.setattr(backbones, "load_backbone", forbidden)
    if not allow_images:
        monkeypatch.setattr(images, "load_image", forbidden)
    try:
        code = main([str(a) for a in argv])
    except SystemExit as exit_:  # argparse's own exits (--help) only
        code = exit_.code
    out, err = capsys.readouterr()
    return code, out, err


def assert_one_line_error(code, err, *words):
    assert code == 2, err
    assert "Traceback" not in err
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    for w in words:
        assert w in lines[0], (w, lines[0])


def assert_raises(exc_type, fn, *words):
    with pytest.raises(exc_type) as info:
        fn()
    for w in words:
        assert w in str(info.value), (w, str(info.value))


# ------------------------------------------------------------------------------ files

# kind, words naming the problem, words naming the fix
FILES = [
    ("missing", ["nope.jpg", "no such file"], ["Check the path"]),
    ("empty", ["empty.jpg", "empty (0 bytes)"], ["Re-download or re-export"]),
    ("truncated", ["cut.png", "truncated or corrupt"], ["Re-download or re-export"]),
    ("text", ["notes.png", "not an image format"], ["Check that it is really an image"]),
    ("html", ["page.jpg", "not an image format"], ["not a text/HTML file"]),
    ("directory", ["photos.jpg", "is a directory"], ["Pass the path of an image file"]),
    ("bomb", ["huge.png", "400,000,000 pixels", "decompression-bomb limit"], ["Downscale the file first"]),
    ("one_pixel", ["dot.png", "1x1 pixels", "below the minimum of 32"], ["Use a larger image"]),
    ("too_thin", ["strip.png", "pixels; its shorter side"], ["larger max_size (--size)", "less elongated"]),
]


@pytest.mark.parametrize("kind, problem, fix", rows(FILES))
def test_bad_file_python(kind, problem, fix, tmp_path):
    path = make_bad_file(kind, tmp_path)
    assert_raises(ImageError, lambda: load_image(path, max_size=256), *problem, *fix)


@pytest.mark.parametrize("kind, problem, fix", rows(FILES))
@pytest.mark.parametrize("role", ["content", "style"])
def test_bad_file_cli(kind, problem, fix, role, tmp_path, capsys, monkeypatch):
    path = make_bad_file(kind, tmp_path)
    files = {"content": CONTENT, "style": STYLE, role: path}
    code, _, err = run_cli(["--content", files["content"], "--style", files["style"], "--preset", "fast",
                            "--out", tmp_path / "out"], capsys, monkeypatch)
    assert_one_line_error(code, err, *problem, *fix)


def test_a_20000_px_request_is_refused_before_any_allocation(tmp_path, capsys, monkeypatch, effnet):
    run = transfer.run  # run_cli forbids it
    assert_raises(ImageError, lambda: load_image(CONTENT, max_size=20000),
                  "20000 px", "pixels, more than the limit", "Ask for a smaller size")
    monkeypatch.setattr(memory, "free_bytes", lambda dev: (64e9, "this machine"))  # a big workstation
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--size", 20000, "--out", tmp_path], capsys, monkeypatch,
                           allow_images=False)  # refused from the memory estimate, before any image is read
    assert_one_line_error(code, err, "a 20000 px run on", "needs about", "GB of memory", "this machine has 64 GB free",
                          "use --size", "or less")
    assert_raises(NotEnoughMemory, lambda: run(CONTENT, STYLE, preset("fast", size=20000), backbone=effnet),
                  "a 20000 px run on efficientnet_lite0 needs about", "64 GB free", "use size=")


# ------------------------------------------------------------------------------ names and numbers

NAN, INF = float("nan"), float("inf")
CONFIGS = [  # id, fields, problem words, fix words
    ("unknown layer", dict(style_layers={"conv9_1": 1.0}), ["style_layers", "unknown layer 'conv9_1'"], ["use VGG19 names like conv1_1"]),
    ("unknown content layer", dict(content_layer="conv9_2"), ["content_layer", "'conv9_2'"], ["e.g. conv4_2"]),
    ("unknown backbone", dict(backbone="resnet50"), ["backbone", "'resnet50'"], ["must be one of auto, vgg19, vgg19_original, efficientnet_lite0"]),
    ("unknown optimiser", dict(optimizer="sgd"), ["optimizer", "'sgd'"], ["must be one of adam, lbfgs"]),
    ("unknown schedule", dict(lr_schedule="linear"), ["lr_schedule", "'linear'"], ["must be one of constant, cosine, step, plateau"]),
    ("unknown init", dict(init="zeros"), ["init", "'zeros'"], ["must be one of content, noise, gray, style"]),
    ("unknown colour preservation", dict(preserve_colour="yes"), ["preserve_colour", "'yes'"],
     ["must be one of off, luminance, match, histogram"]),
    ("stroke size 0", dict(stroke_size=0.0), ["'stroke_size'", "got 0"], ["above 0 and at most 8"]),
    ("stroke size 9", dict(stroke_size=9.0), ["'stroke_size'", "got 9"], ["above 0 and at most 8"]),
    ("NaN stroke size", dict(stroke_size=NAN), ["'stroke_size'", "nan"], ["must be a finite number"]),
    ("negative blend weight", dict(style_blend=[1.0, -0.5]), ["'style_blend'", "-0.5"], ["finite weights >= 0"]),
    ("blend weights adding to 0", dict(style_blend=[0.0, 0.0]), ["'style_blend'", "add up to 0"], ["positive weight"]),
    ("blend weights not a list", dict(style_blend=0.5), ["'style_blend'", "0.5"], ["one per style image"]),
    ("negative content weight", dict(content_weight=-1.0), ["content_weight", "-1"], ["must not be negative"]),
    ("negative style weight", dict(style_weight=-1e6), ["style_weight", "-1000000"], ["must not be negative"]),
    ("negative layer weight", dict(style_layers={"conv1_1": -0.5}), ["conv1_1", "-0.5"], ["finite number >= 0"]),
    ("zero learning rate", dict(lr=0.0), ["'lr'"], ["must be positive"]),
    ("NaN style weight", dict(style_weight=NAN), ["style_weight", "nan"], ["must be a finite number"]),
    ("NaN layer weight", dict(style_layers={"conv2_1": NAN}), ["conv2_1", "nan"], ["finite number >= 0"]),
    ("inf content weight", dict(content_weight=INF), ["content_weight", "inf"], ["must be a finite number"]),
    ("string style weight", dict(style_weight="1e6"), ["style_weight", "'1e6'"], ["must be a finite number"]),
    ("steps 0", dict(steps=0), ["'steps'", "got 0"], ["must be an integer >= 1"]),
    ("steps -1", dict(steps=-1), ["'steps'", "got -1"], ["must be an integer >= 1"]),
    ("steps 2.5", dict(steps=2.5), ["'steps'", "got 2.5"], ["must be an integer >= 1"]),
    ("size 16", dict(size=16), ["'size'", "got 16"], ["must be an integer >= 32"]),
    pytest.param("zero content and style weight", dict(content_weight=0.0, style_weight=0.0), ["weight"], ["positive"]),
    pytest.param("string layer weight", dict(style_layers={"conv1_1": "a"}), ["style_layers", "conv1_1", "'a'"], ["number"]),
]


@pytest.mark.parametrize("name, fields, problem, fix", rows(CONFIGS))
def test_bad_config_value(name, fields, problem, fix):
    assert_raises(ValueError, lambda: StyleConfig(**fields), *problem, *fix)


def test_unknown_preset_and_backbone_names_python():
    assert_raises(ValueError, lambda: preset("exp9"), "unknown preset 'exp9'", "choose one of baseline, exp1")
    assert_raises(ValueError, lambda: load_backbone("resnet50"), "unknown backbone 'resnet50'", "choose one of auto")


CLI_ARGS = [  # id, extra arguments, problem words, fix words
    ("unknown preset", ["--preset", "exp9"], ["--preset 'exp9' is not a preset"], ["choose one of baseline, exp1"]),
    ("unknown backbone", ["--backbone", "resnet50"], ["--backbone 'resnet50' is not a backbone"], ["choose one of auto"]),
    ("unknown device", ["--device", "foo"], ["--device 'foo'", "not a device name"], ["choose one of cpu, cuda, cuda:N, mps"]),
    ("empty device", ["--device", ""], ["--device ''"], ["choose one of cpu"]),
    ("foreign device", ["--device", "meta"], ["--device 'meta'", "not a device this program runs on"], ["choose one of cpu"]),
    ("steps 0", ["--steps", "0"], ["--steps", "0 is not positive"], ["whole number >= 1"]),
    ("steps -1", ["--steps", "-1"], ["--steps", "-1 is not positive"], ["whole number >= 1"]),
    ("steps string", ["--steps", "many"], ["--steps", "'many' is not a whole number"], ["like 300"]),
    ("size too small", ["--size", "16"], ["--size", "got 16"], ["must be an integer >= 32"]),
    ("string weight", ["--style-weight", "lots"], ["--style-weight", "'lots' is not a number"], ["finite number >= 0"]),
    ("NaN weight", ["--content-weight", "nan"], ["--content-weight", "nan is not a finite number"], ["like 1 or 1e6"]),
    ("inf weight", ["--style-weight", "inf"], ["--style-weight", "inf is not"], ["like 1 or 1e6"]),
    ("negative weight", ["--content-weight", "-2"], ["--content-weight", "-2 is not"], [">= 0"]),
    ("zero weights", ["--content-weight", "0", "--style-weight", "0"], ["leave nothing to optimise"], ["positive weight"]),
    ("missing --style", None, ["required: --style"], ["--help"]),
    # every command-line preset starts from the photo: a seed changes nothing there, and says so
    ("a seed without noise", ["--seed", "5"], ["--seed changes only the noise an --init noise run starts from",
                                               "starts from content_in_style_colours"], ["leave --seed out"]),
    ("string seed", ["--seed", "x"], ["--seed", "invalid int value: 'x'"], ["--help"]),
    ("steps 1e20", ["--steps", str(10 ** 20)], ["--steps", "more than 1,000,000 steps"], ["give fewer"]),
    ("stroke size 0", ["--stroke-size", "0"], ["--stroke-size", "0 is not a size above 0"], ["like 0.5"]),
    ("stroke size text", ["--stroke-size", "big"], ["--stroke-size", "'big' is not a number"], ["like 0.5 or 2"]),
    ("unknown colour preservation", ["--preserve-colour", "yes"], ["--preserve-colour 'yes' is not a way to keep colours"],
     ["choose one of off, luminance, match, histogram"]),
    ("negative blend weight", ["--style-blend", "1", "-1"], ["--style-blend", "-1 is not a finite number >= 0"], ["like 1"]),
    ("unknown init", ["--init", "white"], ["--init 'white' is not a start"], ["choose one of content, noise, gray"]),
]


@pytest.mark.parametrize("name, extra, problem, fix", rows(CLI_ARGS))
def test_bad_cli_argument(name, extra, problem, fix, tmp_path, capsys, monkeypatch):
    argv = ["--content", CONTENT, "--style", STYLE, "--out", tmp_path, *(extra or [])]
    if extra is None:
        argv = ["--content", CONTENT]
    code, _, err = run_cli(argv, capsys, monkeypatch, allow_images=False)  # checked before any image is read
    assert_one_line_error(code, err, *problem, *fix)


def make_resume_folder(kind: str, tmp: Path) -> Path:
    """What --resume is given: a folder that is not there, a file, a folder without a checkpoint,
    a finished run's folder, one whose checkpoint is garbage, or a resumable-looking one."""
    if kind == "missing":
        return tmp / "fast" / "20990101-000000-abcdef"
    if kind == "file":
        (tmp / "notes.txt").write_text("not a folder")
        return tmp / "notes.txt"
    folder = tmp / "fast" / "20260101-000000-123abc"
    folder.mkdir(parents=True)
    if kind in ("complete", "garbage", "settings"):
        (folder / "checkpoint.pt").write_bytes(b"not a checkpoint")
    if kind == "complete":
        (folder / "DONE").write_text("complete\n")
    return folder


RESUME_ARGS = [  # id, what --resume is given, extra arguments, problem words, fix words
    ("missing folder", "missing", [], ["cannot resume", "no such folder"], ["give the run folder the interrupted run printed"]),
    ("a file", "file", [], ["cannot resume", "it is a file, not a run folder"], ["give the folder"]),
    ("no checkpoint", "empty", [], ["cannot resume", "it has no checkpoint.pt"], ["start the run again with --content and --style"]),
    ("complete run", "complete", [], ["cannot resume", "already complete"], ["load it with nst_helpers.load_run"]),
    ("garbage checkpoint", "garbage", [], ["cannot resume", "checkpoint.pt cannot be read"], ["start the run again"]),
    ("new settings", "settings", ["--steps", "5", "--preset", "exp1"], ["--resume goes on with the settings"],
     ["leave out --preset --steps"]),
    # typed, a setting is refused even where it equals the default: it may not be the run's own
    ("default settings", "settings", ["--preset", "fast", "--out", "outputs", "--backbone", "auto"],
     ["--resume goes on with the settings"], ["leave out --preset --backbone --out"]),
]


@pytest.mark.parametrize("name, kind, extra, problem, fix", rows(RESUME_ARGS))
def test_bad_resume(name, kind, extra, problem, fix, tmp_path, capsys, monkeypatch):
    folder = make_resume_folder(kind, tmp_path)
    code, _, err = run_cli(["--resume", folder, *extra], capsys, monkeypatch, allow_images=False)
    assert_one_line_error(code, err, *problem, *fix)
    assert kind == "settings" or str(folder) in err


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has CUDA: --device cuda is valid here")
@pytest.mark.parametrize("device", ["cuda", "cuda:1"])
def test_cuda_without_cuda(device, tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--device", device, "--out", tmp_path], capsys, monkeypatch,
                           allow_images=False)
    assert_one_line_error(code, err, f"--device {device}", "no CUDA device on this machine", "use --device cpu")


def test_cuda_index_past_the_last_gpu(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)   # pretend: two GPUs
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--device", "cuda:5", "--out", tmp_path], capsys, monkeypatch,
                           allow_images=False)
    assert_one_line_error(code, err, "--device cuda:5", "has 2 CUDA device(s)", "use cuda:0 .. cuda:1")


@pytest.mark.skipif(getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available(),
                    reason="this machine has MPS: --device mps is valid here")
def test_mps_without_mps(tmp_path, capsys, monkeypatch):
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--device", "mps", "--out", tmp_path], capsys, monkeypatch,
                           allow_images=False)
    assert_one_line_error(code, err, "--device mps", "no Apple MPS device", "use --device cpu")


# ------------------------------------------------------------------------------ output folder

@pytest.mark.parametrize("where", ["under a regular file", "is a regular file", "a symbolic link loop"])
def test_unwritable_output_folder_fails_before_anything_is_loaded(where, tmp_path, capsys, monkeypatch):
    blocker = tmp_path / "notes.txt"
    blocker.write_text("a file where a folder should be")
    out = blocker / "runs" if where == "under a regular file" else blocker
    if where == "a symbolic link loop":
        out = tmp_path / "loop"
        out.symlink_to(out)
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--out", out], capsys, monkeypatch, allow_images=False)
    reason = {"under a regular file": "Not a directory", "is a regular file": "File exists",
              "a symbolic link loop": "Too many levels of symbolic links"}[where]
    assert_one_line_error(code, err, f"--out {out}", "cannot write there", reason, "choose a folder you can write to")
    assert blocker.read_text() == "a file where a folder should be"


# ------------------------------------------------------------------------------ config JSON

GOOD_JSON = json.loads(preset("fast").to_json())
JSONS = [  # id, text, problem words, fix words
    ("unknown key", json.dumps({**GOOD_JSON, "colour_boost": 2}), ["unknown config field(s) ['colour_boost']"], ["known fields:"]),
    ("misspelt key", json.dumps({"style_wieght": 1e6}), ["['style_wieght']"], ["known fields:", "style_weight"]),
    ("bad type: steps as text", json.dumps({**GOOD_JSON, "steps": "150"}), ["'steps'", "got '150'"], ["must be an integer >= 1"]),
    ("bad type: weight as text", json.dumps({"content_weight": "1"}), ["'content_weight'", "got '1'"], ["must be a finite number"]),
    ("bad type: NaN weight", '{"style_weight": NaN}', ["'style_weight'", "got nan"], ["must be a finite number"]),
    ("bad nesting: a run folder's whole config.json", json.dumps({"config": GOOD_JSON, "backbone": "vgg19", "device": "cpu"}),
     ["unknown config field(s) ['config', 'device']"], ["known fields:"]),
    pytest.param("bad nesting: layers as a list", json.dumps({"style_layers": [["conv1_1", 1.0], 5]}), ["style_layers"], ["{"]),
    pytest.param("bad nesting: layers as a number", json.dumps({"style_layers": 5}), ["style_layers"], ["{"]),
    pytest.param("bad nesting: layer weight as an object", json.dumps({"style_layers": {"conv1_1": {"weight": 1}}}),
                 ["style_layers", "conv1_1"], ["number"]),
    pytest.param("top level is a list", "[1, 2]", ["object"], ["{"]),
    pytest.param("not JSON at all", "{steps: 3", ["JSON"], ["line 1"]),
]


@pytest.mark.parametrize("name, text, problem, fix", rows(JSONS))
def test_bad_config_json(name, text, problem, fix):
    assert_raises(ValueError, lambda: StyleConfig.from_json(text), *problem, *fix)


# ------------------------------------------------------------------------------ weights file

def _bad_weights(kind: str, path: Path) -> Path:
    if kind == "garbage":
        path.write_bytes(b"<html>not weights</html>" * 50)
    elif kind == "empty":
        path.write_bytes(b"")
    elif kind == "truncated":
        buf = io.BytesIO()
        torch.save({"features.0.weight": torch.zeros(64, 3, 3, 3)}, buf)
        path.write_bytes(buf.getvalue()[: len(buf.getvalue()) // 2])
    elif kind == "other network":
        torch.save({"fc.weight": torch.zeros(3, 3)}, path)
    return path


WEIGHTS = [("garbage", "not a PyTorch weights file"), ("empty", "empty or cut short"),
           ("truncated", "empty or cut short"), ("other network", "other weights than VGG19's")]


@pytest.mark.parametrize("kind, problem", rows(WEIGHTS))
def test_corrupt_vgg19_weights_file_cli(kind, problem, tmp_path, capsys, monkeypatch):
    path = _bad_weights(kind, tmp_path / "vgg19.pth")
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(path))
    monkeypatch.setattr(transfer, "run", lambda *a, **k: pytest.fail("a run started with a corrupt weights file"))
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--backbone", "vgg19", "--size", 32, "--out", tmp_path],
                           capsys, monkeypatch, allow_run=True)
    assert_one_line_error(code, err, str(path), "NST_VGG19_WEIGHTS", problem,
                          "replace it with a good copy of vgg19-dcbb9e9d.pth", "--backbone efficientnet_lite0")


def test_corrupt_vgg19_weights_file_python(tmp_path, monkeypatch):
    path = _bad_weights("garbage", tmp_path / "vgg19.pth")
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(path))
    assert_raises(RuntimeError, lambda: load_backbone("vgg19", verbose=False), str(path), "efficientnet_lite0")


@pytest.mark.parametrize("kind, problem", rows(WEIGHTS))
def test_auto_falls_back_to_the_original_vgg19_past_a_corrupt_weights_file(kind, problem, tmp_path, monkeypatch, capsys):
    path = _bad_weights(kind, tmp_path / "vgg19.pth")
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(path))
    net = load_backbone("auto")
    line = capsys.readouterr().out.strip()
    assert net.name == "vgg19_original" and line.count("\n") == 0
    assert "vgg19_original" in line and str(path) in line and problem in line, line


def test_missing_vgg19_weights_file_cli(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("NST_VGG19_WEIGHTS", str(tmp_path / "nowhere.pth"))
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--backbone", "vgg19", "--out", tmp_path],
                           capsys, monkeypatch, allow_run=True)
    assert_one_line_error(code, err, "nowhere.pth is not a file", "--backbone efficientnet_lite0")


# ------------------------------------------------------------------------------ as a real process

@pytest.mark.parametrize("args, env, words", [
    (["--device", "foo"], {}, "--device 'foo'"),
    (["--content", "nope.jpg"], {}, "nope.jpg: no such file"),
    (["--backbone", "vgg19", "--size", "32"], {"NST_VGG19_WEIGHTS": "GARBAGE"}, "not a PyTorch weights file"),
])
def test_no_traceback_reaches_a_terminal(args, env, words, tmp_path):
    import os
    if env.get("NST_VGG19_WEIGHTS") == "GARBAGE":
        env = {"NST_VGG19_WEIGHTS": str(_bad_weights("garbage", tmp_path / "w.pth"))}
    argv = [sys.executable, "-m", "nst_helpers", "--content", CONTENT, "--style", STYLE, "--out", str(tmp_path / "o"), *args]
    p = subprocess.run(argv, capture_output=True, text=True, cwd=tmp_path, timeout=300,
                       env={**os.environ, "PYTHONPATH": str(ROOT), **env})
    assert_one_line_error(p.returncode, p.stderr, words)


# ------------------------------------------------------------------------------ inputs that must work

def _exif(arr: np.ndarray, orientation: int, path: Path) -> Path:
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = orientation
    img.save(path, exif=exif)
    return path


def make_good_file(kind: str, tmp: Path):
    """(path, max_size, expected (H, W, 3) float array in [0, 1], atol), the expectation
    computed independently of load_image (numpy formulas, the EXIF spec, Pillow's resizer)."""
    rgb = _smooth(48, 64)
    if kind == "grayscale":
        grey = rgb[..., 0]
        Image.fromarray(grey, "L").save(tmp / "g.png")
        return tmp / "g.png", None, np.repeat(grey[..., None], 3, 2) / 255, 1e-6
    if kind == "RGBA":
        rgba = np.dstack([rgb, np.linspace(0, 255, 64, dtype=np.uint8)[None, :].repeat(48, 0)])
        Image.fromarray(rgba, "RGBA").save(tmp / "a.png")
        a = rgba[..., 3:] / 255
        return tmp / "a.png", None, rgb / 255 * a + (1 - a), 1e-6
    if kind == "palette":
        pal = Image.fromarray(rgb).quantize(16)
        pal.save(tmp / "p.png")
        table = np.array(pal.getpalette()[: 3 * 256]).reshape(-1, 3)
        return tmp / "p.png", None, table[np.asarray(pal)] / 255, 1e-6
    if kind == "CMYK":
        Image.new("CMYK", (64, 48), (0, 128, 255, 0)).save(tmp / "c.jpg", quality=100)
        return tmp / "c.jpg", None, np.broadcast_to(np.array([255, 127, 0]) / 255, (48, 64, 3)), 3 / 255
    if kind == "16-bit":
        ramp = np.linspace(0, 65535, 64 * 48).round().astype(np.uint16).reshape(48, 64)
        Image.fromarray(ramp).save(tmp / "d.png")
        return tmp / "d.png", None, np.repeat(ramp[..., None], 3, 2) / 65535, 1e-6
    if kind.startswith("EXIF"):
        orientation = int(kind.split()[-1])
        turned = {3: np.rot90(rgb, 2), 6: np.rot90(rgb, -1), 8: np.rot90(rgb, 1)}[orientation]
        return _exif(rgb, orientation, tmp / "e.png"), None, turned / 255, 1e-6
    if kind == "very wide 10:1":
        wide = _smooth(100, 1000)
        Image.fromarray(wide).save(tmp / "w.png")
        ref = np.asarray(Image.fromarray(wide).resize((512, 51), Image.Resampling.LANCZOS)) / 255
        return tmp / "w.png", 512, ref, 1.5 / 255
    raise ValueError(kind)


GOOD = ["grayscale", "RGBA", "palette", "CMYK", "16-bit", "EXIF 3", "EXIF 6", "EXIF 8", "very wide 10:1"]


@pytest.mark.parametrize("kind", GOOD)
def test_unusual_images_load_right(kind, tmp_path):
    path, max_size, expected, atol = make_good_file(kind, tmp_path)
    out = load_image(path, max_size=max_size)
    assert out.dtype == torch.float32 and tuple(out.shape) == (1, 3, *expected.shape[:2])
    assert 0 <= float(out.min()) and float(out.max()) <= 1
    np.testing.assert_allclose(out[0].permute(1, 2, 0).numpy(), expected, atol=atol)
    if kind == "16-bit":  # the 16 bits are kept, not squeezed into 256 levels
        assert len(torch.unique(out)) > 1000


@pytest.mark.parametrize("kind", GOOD)
def test_unusual_images_run_from_the_command_line(kind, tmp_path, capsys, monkeypatch, effnet):
    path, max_size, expected, _ = make_good_file(kind, tmp_path)
    monkeypatch.setattr(backbones, "load_backbone", lambda *a, **k: effnet)   # the session's, loaded once
    size = max_size or 64
    code, out, err = run_cli(["--content", path, "--style", path, "--preset", "fast", "--steps", 2, "--size", size,
                              "--backbone", "efficientnet_lite0", "--out", tmp_path / "o", "--no-progress"],
                             capsys, monkeypatch, allow_run=True)
    assert code == 0, err
    folder = next((tmp_path / "o" / "fast").iterdir())
    final = Image.open(folder / "final.png")
    h, w = expected.shape[:2]
    scale = size / max(h, w)
    assert final.size == (max(1, round(w * scale)), max(1, round(h * scale)))  # orientation and aspect kept
    assert str(folder) in out and math.isfinite(json.loads((folder / "config.json").read_text())["seconds"])


# ------------------------------------------------------------------------------ masks (--mask)

MASKS = [  # id, the mask(s) given, more flags, problem words, fix words
    ("mask of another aspect", ["wide"], [], ["--mask: the mask is 512x256 px (2.00:1) but the photo is 512x512"],
     ["make the mask the photo's shape", "resized to the photo's size, not cropped"]),
    ("all-black mask", ["black"], [], ["--mask: the mask is black everywhere"], ["paint it white where the style"]),
    ("masks outnumber the styles", ["white", "white"], [], ["--mask gives 2 mask(s) for 1 style image(s)"],
     ["one --mask per --style image"]),
    ("mask not an image", ["text"], [], ["notes.png", "not an image format"], ["Check that it is really an image"]),
    ("masks with blend weights", ["white"], ["--style-blend", "1"], ["--style-blend: masks already give each style"],
     ["leave style_blend out"]),
    ("masks with adaptive weights", ["white"], ["--adaptive-weights", "initial"],
     ["--adaptive-weights: is not available with masks yet"], ["set it to 'off'"]),
    ("masks with tiles", ["white"], ["--tile-size", "512"], ["--tile-size: is not available with masks yet"],
     ["set it to 0 (off)"]),
]


def make_mask(kind, tmp_path) -> Path:
    if kind == "text":
        return make_bad_file("text", tmp_path)
    size, value = {"wide": ((512, 256), 255), "black": ((512, 512), 0), "white": ((512, 512), 255)}[kind]
    path = tmp_path / f"{kind}.png"
    Image.new("L", size, value).save(path)
    return path


@pytest.mark.parametrize("name, given, extra, problem, fix", rows(MASKS))
def test_bad_mask_cli(name, given, extra, problem, fix, tmp_path, capsys, monkeypatch):
    paths = [make_mask(kind, tmp_path) for kind in given]
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--mask", *paths, *extra, "--out", tmp_path / "out"],
                           capsys, monkeypatch)   # refused before the backbone loads
    assert_one_line_error(code, err, *problem, *fix)


@pytest.mark.parametrize("name, given, extra, problem, fix", rows(MASKS[:2]))
def test_bad_mask_python(name, given, extra, problem, fix, tmp_path):
    content = load_image(CONTENT, max_size=64)
    from nst_helpers.core.masks import load_masks
    words = [w.replace("--mask: ", "").replace("512x512", "64x64") for w in problem + fix]
    assert_raises(ValueError, lambda: load_masks([make_mask(k, tmp_path) for k in given], content, 1), *words)
