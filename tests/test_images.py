"""Tests for nst_helpers.images: every expected value is computed independently
(numpy formulas, Pillow's own conversions/resizers), never just "it ran"."""

from __future__ import annotations

import os

import numpy as np
import PIL.Image
import pytest
import torch
from PIL import Image

from nst_helpers.core.images import ImageError, load_image, resize_to, save_image, to_pil


def _noise(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    """Random uint8 image (H, W, C): incompressible, so truncating a file really cuts pixel data."""
    return np.random.default_rng(seed).integers(0, 256, (h, w, c), dtype=np.uint8)


def _hwc(t: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) tensor -> (H, W, 3) numpy."""
    return t[0].permute(1, 2, 0).numpy()


def _check_output(t: torch.Tensor, h: int, w: int) -> None:
    assert isinstance(t, torch.Tensor)
    assert t.shape == (1, 3, h, w) and t.dtype == torch.float32 and t.is_contiguous()
    assert float(t.min()) >= 0.0 and float(t.max()) <= 1.0


# --------------------------------------------------------------------------- modes


@pytest.mark.parametrize("kind", ["path", "str", "pil", "array"])
def test_rgb_all_source_kinds_exact(tmp_path, kind):
    arr = _noise(40, 50)
    path = tmp_path / "rgb.png"
    Image.fromarray(arr).save(path)
    source = {"path": path, "str": str(path), "pil": Image.fromarray(arr), "array": arr}[kind]
    t = load_image(source)
    _check_output(t, 40, 50)
    np.testing.assert_array_equal(_hwc(t), arr.astype(np.float32) / 255)


@pytest.mark.parametrize("kind", ["path", "pil", "array"])
def test_rgba_composited_on_white(tmp_path, kind):
    arr = np.zeros((32, 32, 4), np.uint8)
    arr[...] = (10, 200, 30, 0)  # fully transparent: hidden colour must not show
    arr[0, 0] = (200, 50, 0, 128)  # half transparent
    arr[0, 1] = (12, 34, 56, 255)  # opaque
    path = tmp_path / "rgba.png"
    Image.fromarray(arr).save(path)
    source = {"path": path, "pil": Image.fromarray(arr), "array": arr}[kind]
    out = _hwc(load_image(source))
    np.testing.assert_allclose(out[5, 5], [1.0, 1.0, 1.0], atol=1e-6)
    a = 128 / 255
    expected = np.array([200, 50, 0]) / 255 * a + (1 - a)  # c*a + white*(1-a)
    np.testing.assert_allclose(out[0, 0], expected, atol=1e-6)
    np.testing.assert_allclose(out[0, 1], np.array([12, 34, 56]) / 255, atol=1e-6)


def test_la_composited_on_white_and_gray(tmp_path):
    arr = np.zeros((32, 32, 2), np.uint8)
    arr[...] = (100, 128)
    arr[1, 1] = (7, 0)
    path = tmp_path / "la.png"
    Image.frombytes("LA", (32, 32), arr.tobytes()).save(path)
    assert Image.open(path).mode == "LA"
    out = _hwc(load_image(path))
    a = 128 / 255
    np.testing.assert_allclose(out[0, 0], [100 / 255 * a + 1 - a] * 3, atol=1e-6)
    np.testing.assert_allclose(out[1, 1], [1.0, 1.0, 1.0], atol=1e-6)


def test_grayscale_l_gives_three_equal_channels(tmp_path):
    gray = _noise(33, 45, 1)[..., 0]
    path = tmp_path / "gray.png"
    Image.fromarray(gray).save(path)
    assert Image.open(path).mode == "L"
    out = _hwc(load_image(path))
    for c in range(3):
        np.testing.assert_array_equal(out[..., c], gray.astype(np.float32) / 255)
    # Same result from a 2-D array and from an (H, W, 1) array.
    np.testing.assert_array_equal(_hwc(load_image(gray)), out)
    np.testing.assert_array_equal(_hwc(load_image(gray[..., None])), out)


def test_palette_matches_pillow_conversion(tmp_path):
    img = Image.fromarray(_noise(40, 40)).quantize(colors=16)
    path = tmp_path / "pal.png"
    img.save(path)
    assert Image.open(path).mode == "P"
    expected = np.asarray(img.convert("RGB"), np.float32) / 255
    np.testing.assert_array_equal(_hwc(load_image(path)), expected)


def test_palette_with_transparency_composited_on_white(tmp_path):
    img = Image.new("P", (32, 32), 0)
    img.putpalette([255, 0, 0, 0, 0, 255, 0, 255, 0] + [0] * (256 * 3 - 9))
    img.putpixel((0, 0), 1)  # blue, alpha 64
    img.putpixel((1, 0), 2)  # green, opaque (no tRNS entry)
    path = tmp_path / "pal_trns.png"
    img.save(path, transparency=bytes([0, 64]))  # index 0 (red) fully transparent
    out = _hwc(load_image(path))
    np.testing.assert_allclose(out[5, 5], [1, 1, 1], atol=1e-6)
    a = 64 / 255
    np.testing.assert_allclose(out[0, 0], [1 - a, 1 - a, 1.0], atol=1e-6)
    np.testing.assert_allclose(out[0, 1], [0, 1, 0], atol=1e-6)


def test_palette_single_transparent_index(tmp_path):
    img = Image.new("P", (32, 32), 3)
    img.putpalette([0, 0, 0] * 3 + [10, 20, 30] + [0] * (256 * 3 - 12))
    img.putpixel((2, 2), 0)
    path = tmp_path / "gif_like.gif"
    img.save(path, transparency=0)
    out = _hwc(load_image(path))
    np.testing.assert_allclose(out[2, 2], [1, 1, 1], atol=1e-6)
    np.testing.assert_allclose(out[0, 0], np.array([10, 20, 30]) / 255, atol=1e-6)


def test_cmyk(tmp_path):
    rng = np.random.default_rng(3)
    cmyk = rng.integers(0, 256, (32, 40, 4), dtype=np.uint8)
    cmyk[0, 0] = (255, 0, 0, 0)  # pure cyan ink -> RGB (0, 1, 1)
    cmyk[0, 1] = (0, 0, 0, 0)  # no ink -> white
    cmyk[0, 2] = (0, 0, 0, 255)  # full black
    path = tmp_path / "cmyk.tif"
    Image.frombytes("CMYK", (40, 32), cmyk.tobytes()).save(path)
    assert Image.open(path).mode == "CMYK"
    out = _hwc(load_image(path))
    np.testing.assert_allclose(out[0, 0], [0, 1, 1])
    np.testing.assert_allclose(out[0, 1], [1, 1, 1])
    np.testing.assert_allclose(out[0, 2], [0, 0, 0])
    # Independent naive formula: channel = (1 - ink) * (1 - black).
    c = cmyk.astype(np.float64) / 255
    expected = (1 - c[..., :3]) * (1 - c[..., 3:4])
    np.testing.assert_allclose(out, expected, atol=1 / 255 + 1e-6)


def _sixteen_bit_values() -> np.ndarray:
    row = np.array([0, 256, 257, 32768, 65535], np.uint16)
    return np.repeat(np.repeat(row[None, :], 32, axis=0), 8, axis=1)  # (32, 40)


@pytest.mark.parametrize("kind", ["png", "array", "pil_I;16", "pil_I"])
def test_sixteen_bit_scaled_not_clipped(tmp_path, kind):
    u16 = _sixteen_bit_values()
    if kind == "png":
        source = tmp_path / "deep.png"
        Image.fromarray(u16).save(source)
        assert Image.open(source).mode in ("I;16", "I")
    elif kind == "array":
        source = u16
    elif kind == "pil_I;16":
        source = Image.fromarray(u16)
        assert source.mode == "I;16"
    else:
        source = Image.fromarray(u16.astype(np.int32))
        assert source.mode == "I"
    out = _hwc(load_image(source))
    got = out[0, ::8, 0]
    np.testing.assert_allclose(got, np.array([0, 256, 257, 32768, 65535]) / 65535, rtol=0, atol=1e-7)
    assert got[-1] == 1.0 and abs(got[3] - 0.5) < 1e-4
    assert got[2] > got[1]  # 256 vs 257 survive: no reduction to 8 bits
    assert (out[..., 0] == out[..., 1]).all() and (out[..., 1] == out[..., 2]).all()


def test_float_arrays(tmp_path):
    arr = np.random.default_rng(1).random((32, 36, 3))
    np.testing.assert_allclose(_hwc(load_image(arr)), arr, atol=1e-7)
    np.testing.assert_allclose(_hwc(load_image(arr.astype(np.float32))), arr, atol=1e-7)
    for bad in (arr * 255, arr - 0.5):
        with pytest.raises(ImageError, match=r"the given array.*\[0, 1\]"):
            load_image(bad)
    nan = arr.copy()
    nan[0, 0, 0] = np.nan
    with pytest.raises(ImageError, match="the given array"):
        load_image(nan)


def test_exif_orientation_6_rotates_clockwise(tmp_path):
    arr = _noise(40, 60)  # H=40, W=60
    arr[:5, :5] = (255, 0, 0)  # red marker in the stored top-left corner
    img = Image.fromarray(arr)
    exif = img.getexif()
    exif[0x0112] = 6  # "rotate 90 CW to display"
    path = tmp_path / "phone.png"
    img.save(path, exif=exif)
    out = _hwc(load_image(path))
    assert out.shape == (60, 40, 3)  # transposed
    np.testing.assert_array_equal(out, np.rot90(arr, k=-1).astype(np.float32) / 255)
    np.testing.assert_array_equal(out[:5, -5:], np.broadcast_to([1.0, 0, 0], (5, 5, 3)))  # now top-right
    # The same orientation is honoured for an opened PIL image.
    np.testing.assert_array_equal(_hwc(load_image(Image.open(path))), out)


# --------------------------------------------------------------------------- resizing


@pytest.mark.parametrize(
    ("w", "h", "max_size", "expected_wh"),
    [
        (300, 200, 150, (150, 100)),  # downscale landscape
        (200, 300, 150, (100, 150)),  # downscale portrait
        (60, 40, 90, (90, 60)),  # upscale
        (301, 100, 150, (150, 50)),  # 100 * 150 / 301 = 49.83 -> rounds to 50
        (64, 64, 64, (64, 64)),  # unchanged
    ],
)
def test_max_size_sets_longest_side_keeps_aspect(w, h, max_size, expected_wh):
    # Smooth content in (0.1, 0.9): LANCZOS overshoot never hits the clip, so
    # Pillow's 8-bit resize is a fair reference (it clips between its passes).
    yy, xx = np.mgrid[0:h, 0:w]
    smooth = np.stack([np.sin(xx / 9.0), np.cos(yy / 7.0), np.sin((xx + yy) / 13.0)], axis=2)
    arr = np.round(127.5 + 100 * smooth).astype(np.uint8)
    out = load_image(arr, max_size=max_size)
    _check_output(out, expected_wh[1], expected_wh[0])
    if (w, h) == expected_wh:
        np.testing.assert_array_equal(_hwc(out), arr.astype(np.float32) / 255)
    else:
        ref = np.asarray(Image.fromarray(arr).resize(expected_wh, Image.Resampling.LANCZOS), np.float32) / 255
        assert np.abs(_hwc(out) - ref).max() <= 1.5 / 255


def test_max_size_shorter_side_at_least_one():
    out = load_image(np.zeros((10, 1000), np.uint8), max_size=50, min_size=1)
    assert out.shape == (1, 3, 1, 50)


def test_resize_keeps_constant_image_constant_and_16bit_precision():
    u16 = np.full((80, 120), 257, np.uint16)
    out = load_image(u16, max_size=60)
    np.testing.assert_allclose(out.numpy(), 257 / 65535, atol=1e-6)


@pytest.mark.parametrize("bad", [0, -5, 2.5, True])
def test_bad_max_size(bad):
    with pytest.raises(ImageError, match="max_size"):
        load_image(np.zeros((40, 40), np.uint8), max_size=bad)


def test_resize_to_matches_pillow_bicubic():
    x = np.random.default_rng(2).random((64, 96)).astype(np.float32)
    t = torch.from_numpy(np.stack([x, x[::-1], 1 - x]).copy())[None]
    for size in [(27, 40), (100, 150)]:
        out = resize_to(t, size)
        assert out.shape == (1, 3, *size) and out.dtype == torch.float32
        ref = np.asarray(Image.fromarray(x).resize(size[::-1], Image.Resampling.BICUBIC))
        assert np.abs(out[0, 0].numpy() - np.clip(ref, 0, 1)).max() < 1e-4
        assert float(out.min()) >= 0 and float(out.max()) <= 1
    torch.testing.assert_close(resize_to(t, (64, 96)), t)  # same size -> identity
    constant = torch.full((1, 3, 50, 70), 0.3)
    torch.testing.assert_close(resize_to(constant, (31, 17)), torch.full((1, 3, 31, 17), 0.3))


# --------------------------------------------------------------------------- to_pil / save


def test_to_pil_rounds_and_clamps():
    vals = torch.tensor([0.6 / 255, 254.6 / 255, -0.2, 1.3, 0.5, 100.4 / 255])
    t = vals.view(1, 1, 1, 6).expand(1, 3, 1, 6).contiguous()
    pil = to_pil(t)
    assert pil.mode == "RGB" and pil.size == (6, 1)
    expected = [1, 255, 0, 255, 128, 100]  # truncation would give 0, 254, .., 127, 100
    assert np.asarray(pil)[0, :, 0].tolist() == expected
    assert np.asarray(to_pil(t[0]))[0, :, 1].tolist() == expected  # (3, H, W) too
    with pytest.raises(ImageError, match=r"\(1, 3, H, W\)"):
        to_pil(torch.zeros(1, 4, 5, 5))


def test_save_load_png_roundtrip_exact(tmp_path):
    arr = _noise(37, 53)
    t = torch.from_numpy(arr.astype(np.float32) / 255).permute(2, 0, 1)[None]
    target = tmp_path / "deep" / "er" / "out.png"  # parents created
    returned = save_image(t, target)
    assert returned == target and target.is_file()
    assert Image.open(target).format == "PNG"
    torch.testing.assert_close(load_image(target), t, rtol=0, atol=0)
    # Arbitrary floats come back quantised by rounding.
    x = torch.rand(1, 3, 33, 34, generator=torch.Generator().manual_seed(0))
    save_image(x, tmp_path / "x.png")
    torch.testing.assert_close(load_image(tmp_path / "x.png"), (x * 255).round() / 255, rtol=0, atol=1e-7)


@pytest.mark.parametrize("suffix", [".jpg", ".jpeg", ".JPG"])
def test_save_load_jpeg_close(tmp_path, suffix):
    yy, xx = np.mgrid[0:64, 0:96] / np.array([64.0, 96.0])[:, None, None]
    t = torch.from_numpy(np.stack([xx, yy, 0.5 * (xx + yy)]).astype(np.float32))[None]
    path = save_image(t, tmp_path / f"smooth{suffix}")
    with Image.open(path) as img:
        assert img.format == "JPEG" and img.mode == "RGB"
    back = load_image(path)
    assert back.shape == t.shape
    assert float((back - t).abs().mean()) < 0.01 and float((back - t).abs().max()) < 0.08


def test_save_pil_rgba_as_jpeg_flattens_on_white(tmp_path):
    rgba = Image.new("RGBA", (40, 40), (255, 0, 0, 0))
    back = _hwc(load_image(save_image(rgba, tmp_path / "flat.jpg")))
    np.testing.assert_allclose(back, 1.0, atol=3 / 255)


def test_save_unsupported_suffix(tmp_path):
    with pytest.raises(ImageError, match=r"out\.bmp.*\.png"):
        save_image(torch.zeros(1, 3, 8, 8), tmp_path / "out.bmp")
    assert list(tmp_path.iterdir()) == []


def test_save_leaves_no_temp_files_and_uses_umask(tmp_path):
    old = os.umask(0o022)
    try:
        for i in range(3):
            save_image(torch.rand(1, 3, 16, 16), tmp_path / "a.png")
            save_image(torch.rand(1, 3, 16, 16), tmp_path / "b.jpg")
    finally:
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.jpg"]
    assert (tmp_path / "a.png").stat().st_mode & 0o777 == 0o644  # not mkstemp's 0600


@pytest.mark.parametrize("exc", [OSError("disk full"), KeyboardInterrupt()])
def test_save_is_atomic_on_failure(tmp_path, monkeypatch, exc):
    target = tmp_path / "keep.png"
    save_image(torch.full((1, 3, 32, 32), 0.25), target)
    before = target.read_bytes()

    def broken_save(self, fp, *args, **kwargs):
        fp.write(b"\x89PNG half-written garbage")
        raise exc

    monkeypatch.setattr(PIL.Image.Image, "save", broken_save)
    with pytest.raises(type(exc)):
        save_image(torch.full((1, 3, 32, 32), 0.75), target)
    monkeypatch.undo()
    assert target.read_bytes() == before  # old image intact
    assert [p.name for p in tmp_path.iterdir()] == ["keep.png"]  # temp file removed
    np.testing.assert_allclose(load_image(target).numpy(), round(0.25 * 255) / 255, atol=1e-7)


class _WatchedFilters(list):
    """warnings.filters stand-in that notes being copied or edited (catch_warnings copies it)."""

    def __init__(self, items):
        super().__init__(items)
        self.touched = []

    def __getitem__(self, index):
        if isinstance(index, slice):
            self.touched.append("copied")
        return super().__getitem__(index)

    def insert(self, *args):
        self.touched.append("insert")
        super().insert(*args)

    def remove(self, *args):
        self.touched.append("remove")
        super().remove(*args)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")
def test_loading_leaves_the_process_warning_filters_alone(tmp_path, monkeypatch):
    """The explorer loads images in a worker thread: warnings.catch_warnings (process-wide
    state, not thread-safe) must not be how bombs are caught."""
    import warnings
    watched = _WatchedFilters(warnings.filters)
    monkeypatch.setattr(warnings, "filters", watched)
    ok, bomb, cut = tmp_path / "ok.png", tmp_path / "bomb.png", tmp_path / "cut.png"
    Image.fromarray(_noise(40, 40)).save(ok)
    Image.fromarray(_noise(40, 40)).save(bomb)
    cut.write_bytes(ok.read_bytes()[:300])
    load_image(ok)
    with pytest.raises(ImageError, match="truncated"):
        load_image(cut)
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 1000)   # 1600 px: Pillow only warns
    with pytest.raises(ImageError, match="1,600 pixels"):  # (pytest.warns would copy the filters itself)
        load_image(bomb)
    assert warnings.filters is watched and watched.touched == []


def test_save_never_sets_the_umask(tmp_path, monkeypatch):
    """Reading the umask means setting it (process-wide); the kernel applies it for us instead."""
    old = os.umask(0o027)
    try:
        def no_umask(mask):
            raise AssertionError("save_image changed the process umask")
        monkeypatch.setattr(os, "umask", no_umask)
        for name in ("a.png", "b.jpg"):
            save_image(torch.rand(1, 3, 16, 16), tmp_path / name)
            assert (tmp_path / name).stat().st_mode & 0o777 == 0o640
    finally:
        monkeypatch.undo()
        os.umask(old)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.png", "b.jpg"]


# --------------------------------------------------------------------------- bad input


def _assert_error(source, *fragments, **kwargs):
    with pytest.raises(ImageError) as info:
        load_image(source, **kwargs)
    for fragment in fragments:
        assert fragment in str(info.value), (fragment, str(info.value))
    assert isinstance(info.value, ValueError)
    return str(info.value)


def test_missing_file(tmp_path):
    _assert_error(tmp_path / "nope.jpg", "nope.jpg", "no such file", "Check the path")


def test_directory(tmp_path):
    (tmp_path / "photos.png").mkdir()
    _assert_error(tmp_path / "photos.png", "photos.png", "is a directory", "image file inside")


def test_not_an_image(tmp_path):
    path = tmp_path / "notes.png"
    path.write_text("this is not a picture\n" * 10)
    _assert_error(path, "notes.png", "not an image", "PNG")


def test_zero_size_file(tmp_path):
    path = tmp_path / "empty.jpg"
    path.write_bytes(b"")
    _assert_error(path, "empty.jpg", "empty (0 bytes)", "Re-download")


@pytest.mark.parametrize("fmt", ["PNG", "JPEG"])
def test_truncated_file(tmp_path, fmt):
    full = tmp_path / f"full.{fmt.lower()}"
    Image.fromarray(_noise(128, 128)).save(full, format=fmt)
    data = full.read_bytes()
    cut = tmp_path / f"cut.{fmt.lower()}"
    cut.write_bytes(data[: len(data) // 2])
    assert PIL.ImageFile.LOAD_TRUNCATED_IMAGES is False
    _assert_error(cut, f"cut.{fmt.lower()}", "truncated or corrupt", "Re-download")
    # A lazily opened PIL image of the same file is caught as well.
    with Image.open(cut) as lazy:
        _assert_error(lazy, "the given image", "truncated or corrupt")


def test_corrupt_png_data(tmp_path):
    path = tmp_path / "bitrot.png"
    Image.fromarray(_noise(64, 64)).save(path)
    data = bytearray(path.read_bytes())
    data[200:600] = bytes(400)  # zero out part of the compressed stream
    path.write_bytes(bytes(data))
    _assert_error(path, "bitrot.png", "corrupt", "Re-download")


def test_too_small(tmp_path):
    path = tmp_path / "thumb.png"
    Image.fromarray(_noise(20, 40)).save(path)
    _assert_error(path, "thumb.png", "40x20", "20", "minimum of 32", "larger")
    # After resizing: 300x200 -> max_size 40 gives 40x27, shorter side 27 < 32.
    _assert_error(_noise(200, 300), "the given array", "40x27", "larger max_size", max_size=40)
    assert load_image(path, min_size=20).shape == (1, 3, 20, 40)


@pytest.mark.filterwarnings("ignore::PIL.Image.DecompressionBombWarning")  # Pillow warns, we refuse
@pytest.mark.parametrize(("side", "kind"), [(40, "warning range"), (50, "error range")])
def test_decompression_bomb(tmp_path, monkeypatch, side, kind):
    path = tmp_path / "bomb.png"
    Image.fromarray(np.zeros((side, side), np.uint8)).save(path)
    ok = tmp_path / "ok.png"
    Image.fromarray(np.zeros((30, 32), np.uint8)).save(ok)
    monkeypatch.setattr(PIL.Image, "MAX_IMAGE_PIXELS", 1000)  # 40*40 warns, 50*50 > 2x errors
    assert load_image(ok, min_size=30).shape == (1, 3, 30, 32)  # 960 px: under the limit
    pixels = f"{side * side:,}"
    _assert_error(path, "bomb.png", pixels, "1,000", "PIL.Image.MAX_IMAGE_PIXELS", "Downscale")


@pytest.mark.parametrize(
    "arr",
    [
        np.zeros((3, 40, 50), np.uint8),  # channels-first
        np.zeros((40, 50, 2), np.uint8),
        np.zeros((1, 40, 50, 3), np.uint8),
        np.zeros((40,), np.uint8),
        np.zeros((0, 40, 3), np.uint8),
    ],
)
def test_bad_array_shape(arr):
    _assert_error(arr, "the given array", str(arr.shape), "(H, W, 3)")


@pytest.mark.parametrize("dtype", [np.int64, np.int32, np.bool_, np.complex64])
def test_bad_array_dtype(dtype):
    _assert_error(np.zeros((40, 40, 3), dtype), "the given array", "dtype", "uint8")


def test_unsupported_source_type():
    _assert_error([[0, 1], [1, 0]], "the given list", "file path")
