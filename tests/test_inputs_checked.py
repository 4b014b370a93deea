"""Inputs checked where they enter (issue 15): a tensor given to run() follows the rules for
arrays, a pipe or device is named for what it is and never waited on, and a huge file loaded at
a small size is shrunk while still 8-bit instead of becoming a full-size float array.
"""
import contextlib
import os
import socket
import stat
import subprocess
import sys
import threading
import tracemalloc
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image, ImageOps

from nst_helpers.core import images, start, transfer
from nst_helpers.core.config import preset
from nst_helpers.core.images import ImageError, load_image
from test_bad_input import CONTENT, ROOT, STYLE, assert_one_line_error, assert_raises, rows

FAST = preset("fast", size=64, steps=1)


def _no_run(monkeypatch):
    """A bad input must be refused before the optimisation starts."""
    monkeypatch.setattr(transfer, "_run_levels", lambda *a, **k: pytest.fail("the run started despite the bad input"))


# ------------------------------------------------------------------------------ tensors

def _with(t: torch.Tensor, index, value) -> torch.Tensor:
    t[index] = value
    return t


# id, the tensor, words naming the problem, words naming the fix
BAD_TENSORS = [
    ("batch of 2", lambda: torch.rand(2, 3, 64, 64), ["has batch size 2", "one image at a time"],
     ["pass t[0:1], or loop over the batch"]),
    ("5 channels", lambda: torch.rand(1, 5, 64, 64), ["has shape (1, 5, 64, 64)", "not an image"],
     ["(C, H, W) or (1, C, H, W)", "C = 1 (grey), 3 (RGB) or 4 (RGBA)"]),
    ("2 channels", lambda: torch.rand(2, 64, 64), ["has shape (2, 64, 64)"], ["C = 1 (grey), 3 (RGB) or 4 (RGBA)"]),
    ("channels last", lambda: torch.rand(64, 64, 3), ["has shape (64, 64, 3)"], ["move the channels first", "t.permute(2, 0, 1)"]),
    ("2-D", lambda: torch.rand(64, 64), ["has shape (64, 64)"], ["(C, H, W) or (1, C, H, W)"]),
    ("5-D", lambda: torch.rand(1, 1, 3, 64, 64), ["has shape (1, 1, 3, 64, 64)"], ["(C, H, W) or (1, C, H, W)"]),
    ("empty", lambda: torch.rand(1, 3, 0, 64), ["has shape (1, 3, 0, 64)"], ["(C, H, W) or (1, C, H, W)"]),
    ("float 0-255", lambda: torch.rand(1, 3, 64, 64) * 255, ["float values in [", "must lie in [0, 1]"],
     ["divide 0-255 data by 255", "or pass uint8."]),
    ("negative float", lambda: torch.rand(3, 64, 64) - 0.5, ["float values in [-", "must lie in [0, 1]"], ["Rescale it"]),
    ("one NaN pixel", lambda: _with(torch.rand(1, 3, 64, 64), (0, 1, 5, 7), float("nan")),
     ["has 1 NaN or infinite value(s)", "must be finite"], ["nan_to_num"]),
    ("inf in float16", lambda: _with(torch.rand(1, 3, 64, 64).half(), (0, 0, 0, 0), float("inf")),
     ["has 1 NaN or infinite value(s)"], ["nan_to_num"]),
    ("bool", lambda: torch.rand(1, 3, 64, 64) > 0.5, ["has dtype torch.bool", "not an image type"],
     ["Convert it to float in [0, 1] or uint8"]),
    ("int64 0-255", lambda: torch.randint(0, 256, (1, 3, 64, 64)), ["has dtype torch.int64"],
     ["Convert it to float in [0, 1] or uint8"]),
    ("complex", lambda: torch.rand(1, 3, 64, 64, dtype=torch.complex64), ["has dtype torch.complex64"],
     ["Convert it to float in [0, 1] or uint8"]),
    ("too small", lambda: torch.rand(1, 3, 16, 64), ["is 64x16 pixels", "below the minimum of 32"], ["Use a larger image"]),
]


@pytest.mark.parametrize("name, make, problem, fix", rows(BAD_TENSORS))
@pytest.mark.parametrize("role", ["content", "style"])
def test_bad_tensor_is_refused_by_run(name, make, problem, fix, role, effnet, monkeypatch):
    _no_run(monkeypatch)
    given = {"content": CONTENT, "style": STYLE, role: make()}
    assert_raises(ImageError, lambda: transfer.run(given["content"], given["style"], FAST, backbone=effnet, progress=False),
                  f"the {role} tensor", *problem, *fix)


def _rgba(h, w):
    return torch.rand(1, 4, h, w, generator=torch.Generator().manual_seed(3))


# id, the tensor, the (1, 3, H, W) float image it stands for (computed with plain formulas)
GOOD_TENSORS = [
    ("uint8 0-255", lambda: torch.randint(0, 256, (1, 3, 48, 64), dtype=torch.uint8), lambda t: t.float() / 255),
    ("uint8 (C, H, W)", lambda: torch.randint(0, 256, (3, 48, 64), dtype=torch.uint8), lambda t: t[None].float() / 255),
    ("grey float (1, 1, H, W)", lambda: torch.rand(1, 1, 48, 64), lambda t: t.expand(1, 3, 48, 64)),
    ("grey uint8 (1, H, W)", lambda: torch.randint(0, 256, (1, 48, 64), dtype=torch.uint8),
     lambda t: t[None].float().expand(1, 3, 48, 64) / 255),
    ("RGBA on white", lambda: _rgba(48, 64), lambda t: t[:, :3] * t[:, 3:] + (1 - t[:, 3:])),
    ("RGBA bfloat16", lambda: _rgba(48, 64).bfloat16(),
     lambda t: t.float()[:, :3] * t.float()[:, 3:] + (1 - t.float()[:, 3:])),
    pytest.param("uint8 on CUDA", lambda: torch.randint(0, 256, (1, 3, 48, 64), dtype=torch.uint8, device="cuda"),
                 lambda t: t.cpu().float() / 255, marks=pytest.mark.skipif(not torch.cuda.is_available(), reason="no CUDA")),
]


@pytest.mark.parametrize("name, make, meaning", rows(GOOD_TENSORS))
@pytest.mark.parametrize("size", [64, 100])
def test_tensors_mean_what_arrays_mean(name, make, meaning, size):
    t = make()
    out = start.as_image(t, size)
    expected = images.resize_to(meaning(t), (round(48 * size / 64), size))
    assert out.dtype == torch.float32 and out.device.type == "cpu" and tuple(out.shape) == (1, 3, round(48 * size / 64), size)
    torch.testing.assert_close(out, expected, atol=1e-6, rtol=0)


def test_a_uint8_tensor_runs_like_its_float_twin(effnet):
    pixels = torch.from_numpy(np.array(Image.open(CONTENT).resize((64, 48)))).permute(2, 0, 1).contiguous()
    as_uint8 = transfer.run(pixels, STYLE, FAST, backbone=effnet, progress=False)
    as_float = transfer.run(pixels[None].float() / 255, STYLE, FAST, backbone=effnet, progress=False)
    assert torch.equal(as_uint8.content, as_float.content) and torch.equal(as_uint8.image, as_float.image)
    assert 0.2 < float(as_uint8.content.mean()) < 0.8  # the photo, not a clamped white sheet


# ------------------------------------------------------------------------------ pipes and devices

BLOCK_DEVICES = ["/dev/loop0", "/dev/vda", "/dev/sda", "/dev/nvme0n1", "/dev/xvda", "/dev/ram0"]


def make_special(kind: str, tmp: Path) -> Path:
    if kind == "FIFO":
        os.mkfifo(tmp / "photo.png")
        return tmp / "photo.png"
    if kind == "symlink to a FIFO":
        os.mkfifo(tmp / "pipe")
        (tmp / "link.jpg").symlink_to(tmp / "pipe")
        return tmp / "link.jpg"
    if kind == "character device":
        return Path("/dev/zero")
    if kind == "socket":
        with contextlib.chdir(tmp), socket.socket(socket.AF_UNIX) as sock:
            sock.bind("sock.png")  # relative: a socket's path is limited to ~100 bytes
        return tmp / "sock.png"
    if kind == "block device":
        found = next((p for p in BLOCK_DEVICES if os.path.exists(p) and stat.S_ISBLK(os.stat(p).st_mode)), None)
        return Path(found) if found else pytest.skip("no block device to point at")
    if kind == "piped stdin":
        return Path("/dev/stdin")  # the command's stdin is a pipe (see test_special_file_cli)
    raise ValueError(kind)


FIX = ["not a regular file", "Save the image to a regular file and pass its path"]
SPECIAL = [  # kind, words naming the problem
    ("FIFO", ["photo.png is a named pipe (FIFO)"]),
    ("symlink to a FIFO", ["link.jpg is a named pipe (FIFO)"]),
    ("character device", ["/dev/zero is a character device"]),
    ("socket", ["sock.png is a socket"]),
    ("block device", ["is a block device"]),
]


def _unblock(path: Path) -> None:
    """Open a pipe's writing end (and close it): a reader stuck in open() then reads EOF."""
    with contextlib.suppress(OSError):
        if stat.S_ISFIFO(os.stat(path).st_mode):
            os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))


def _within(seconds: float, fn, path: Path):
    """fn()'s exception (None if it returned), or fail if it is still running after `seconds`."""
    caught = []

    def call():
        try:
            fn()
        except BaseException as err:  # noqa: BLE001: handed back to the test
            caught.append(err)
    worker = threading.Thread(target=call, daemon=True)
    worker.start()
    worker.join(seconds)
    if worker.is_alive():
        _unblock(path)
        worker.join(10)
        pytest.fail(f"still waiting on {path} after {seconds} s")
    return caught[0] if caught else None


@pytest.mark.parametrize("kind, problem", rows(SPECIAL))
def test_special_file_python(kind, problem, tmp_path):
    path = make_special(kind, tmp_path)
    err = _within(60, lambda: load_image(path, max_size=64), path)
    assert isinstance(err, ImageError), err
    for word in (str(path), *problem, *FIX):
        assert word in str(err), (word, str(err))


@pytest.mark.parametrize("kind, problem", rows(SPECIAL))
@pytest.mark.parametrize("role", ["content", "style"])
def test_special_file_never_hangs_run(kind, problem, role, tmp_path, effnet, monkeypatch):
    _no_run(monkeypatch)
    path = make_special(kind, tmp_path)
    given = {"content": CONTENT, "style": STYLE, role: path}
    err = _within(60, lambda: transfer.run(given["content"], given["style"], FAST, backbone=effnet, progress=False), path)
    assert isinstance(err, ImageError), err
    assert all(word in str(err) for word in (*problem, *FIX)), str(err)


@pytest.mark.parametrize("kind, problem", rows([*SPECIAL, ("piped stdin", ["/dev/stdin is a named pipe (FIFO)"])]))
@pytest.mark.parametrize("role", ["content", "style"])
def test_special_file_cli(kind, problem, role, tmp_path):
    path = make_special(kind, tmp_path)
    files = {"content": CONTENT, "style": STYLE, role: str(path)}
    argv = [sys.executable, "-m", "nst_helpers", "--content", files["content"], "--style", files["style"],
            "--preset", "fast", "--out", str(tmp_path / "out")]
    # a real process with a timeout: a hang fails this test instead of stopping the suite
    p = subprocess.run(argv, capture_output=True, text=True, timeout=60, cwd=tmp_path,
                       stdin=subprocess.PIPE if kind == "piped stdin" else subprocess.DEVNULL,
                       env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert_one_line_error(p.returncode, p.stderr, *problem, *FIX)


# ------------------------------------------------------------------------------ huge files

def _numpy_peak(fn) -> tuple[object, int]:
    """fn()'s result and the peak bytes of Python and numpy allocations (not Pillow's) while it ran."""
    tracemalloc.start()
    try:
        return fn(), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_a_huge_png_loaded_small_never_becomes_a_full_size_float_array(tmp_path):
    path = tmp_path / "flat.png"
    Image.new("RGB", (9000, 9000), (200, 120, 40)).save(path)  # 81 Mpx in a few hundred KB
    out, peak = _numpy_peak(lambda: load_image(path, max_size=64))
    assert peak < 400e6, f"{peak / 1e6:.0f} MB"  # decoded as float32 in full: 972 MB, before the resize
    assert tuple(out.shape) == (1, 3, 64, 64)
    torch.testing.assert_close(out, torch.tensor([200, 120, 40]).view(1, 3, 1, 1).expand(1, 3, 64, 64) / 255, atol=1e-6, rtol=0)


def _gradient(h: int, w: int) -> np.ndarray:
    """(h, w, 3) float in [0, 1]: smooth, so a box average and LANCZOS agree."""
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    return np.stack([xx / w, yy / h, 0.5 + 0.4 * np.sin(xx / w * 6 + yy / h * 4)], 2)


def make_huge(kind: str, tmp: Path) -> tuple[Path, np.ndarray]:
    """(a file of over 16 Mpx, the array the file decodes to in full, upright)."""
    if kind == "JPEG, drafted":
        Image.fromarray(np.uint8(_gradient(4000, 5000) * 255 + 0.5)).save(path := tmp / "g.jpg", quality=95)
    elif kind == "PNG, EXIF 6, odd size":
        img = Image.fromarray(np.uint8(_gradient(4003, 5001) * 255 + 0.5))
        exif = img.getexif()
        exif[0x0112] = 6
        img.save(path := tmp / "g6.png", exif=exif, compress_level=1)
    elif kind == "16-bit grey PNG":
        Image.fromarray(np.uint16(_gradient(4000, 5000)[..., 0] * 65535 + 0.5)).save(path := tmp / "g16.png", compress_level=1)
    elif kind == "palette with alpha":
        rgba = np.uint8(np.dstack([_gradient(4000, 5000), _gradient(4000, 5000)[..., 1:2]]) * 255 + 0.5)
        Image.fromarray(rgba).quantize(64).save(path := tmp / "gp.png", compress_level=1)
    with Image.open(path) as img:
        upright = ImageOps.exif_transpose(img)
        return path, np.asarray(upright.convert("RGBA") if upright.mode == "P" else upright)


HUGE = [  # kind, mean abs difference allowed (the max is 0.02 for all)
    ("JPEG, drafted", 2e-3),
    ("PNG, EXIF 6, odd size", 2e-3),
    ("16-bit grey PNG", 2e-4),   # 16 bits kept: squeezed into 8 they differ by ~1e-3
    ("palette with alpha", 5e-3),
]


@pytest.mark.parametrize("kind, mean_tol", rows(HUGE))
def test_a_huge_file_shrunk_while_8_bit_looks_like_the_full_decode(kind, mean_tol, tmp_path):
    path, decoded = make_huge(kind, tmp_path)
    h, w = decoded.shape[:2]
    out, peak = _numpy_peak(lambda: load_image(path, max_size=256))
    assert peak < w * h * 4, f"{peak / 1e6:.0f} MB"  # less than one float32 channel at full size
    direct = load_image(decoded, max_size=256)  # arrays are never shrunk: today's route
    assert out.shape == direct.shape
    diff = (out - direct).abs()
    assert float(diff.max()) < 0.02 and float(diff.mean()) < mean_tol, (float(diff.max()), float(diff.mean()))
