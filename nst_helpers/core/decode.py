"""Decoding an image file (or a PIL image) with Pillow: the pixel-count limits checked before the
decode, EXIF orientation, Pillow's errors as one ImageError line, and a huge image shrunk while it
is still 8-bit, so that its size in memory is bounded before it becomes floats (images.py)."""
import pathlib
import re

from PIL import Image, ImageOps, UnidentifiedImageError

SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
# Above this many pixels, an image loaded with a max_size is shrunk while still 8-bit (see
# _shrink): an 81 Mpx PNG would be a 972 MB float32 array before its resize. Ordinary photos
# stay below it and decode exactly as before.
SHRINK_ABOVE = 16_000_000


class ImageError(ValueError):
    """An image could not be loaded, converted or saved; the message says why and how to fix it."""


def _bomb_error(name: str, pixels: int | None) -> ImageError:
    count = f"{pixels:,} pixels" if pixels else "too many pixels"
    return ImageError(
        f"{name} has {count}, more than Pillow's decompression-bomb limit of "
        f"{Image.MAX_IMAGE_PIXELS:,}. Downscale the file first, or if you trust it, raise "
        "PIL.Image.MAX_IMAGE_PIXELS (None disables the check) before loading."
    )


def _check_pixels(img: Image.Image, name: str) -> None:
    """Refuse what Pillow only *warns* about (1x to 2x MAX_IMAGE_PIXELS), before decoding.

    Checked by hand rather than by turning the warning into an error: warnings.catch_warnings
    swaps process-wide state, which is not safe from the explorer's worker thread.
    """
    pixels = img.size[0] * img.size[1]
    if Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS:
        raise _bomb_error(name, pixels)


def _shrink_factor(size: tuple[int, int], max_size: int | None) -> int:
    """How many times smaller an image of `size` (w, h) may be decoded: 1 up to SHRINK_ABOVE
    pixels, else as much as keeps its longest side >= 2 * max_size for the LANCZOS resize."""
    if max_size is None or size[0] * size[1] <= SHRINK_ABOVE:
        return 1
    return max(1, max(size) // (2 * max_size))


def _draft(img: Image.Image, factor: int) -> int:
    """Let a JPEG decode at 1/2, 1/4 or 1/8 scale (the DCT does the averaging) -> the scale.

    Only a scale that divides both sides: then the drafted image covers the original exactly,
    whatever its EXIF orientation. Other formats ignore draft() (scale 1)."""
    w, h = img.size
    scale = next((s for s in (8, 4, 2) if s <= factor and w % s == 0 and h % s == 0), 1)
    if scale > 1:
        img.draft(None, (w // scale, h // scale))
    return w // img.size[0]


def _averageable(img: Image.Image) -> Image.Image:
    """`img` in a mode whose box average is the average of what images._pil_to_rgb makes of it:
    16-bit as 32-bit "I" (reduce has no I;16), palette, 1-bit, CMYK and colour keys as RGB(A)."""
    if img.mode in ("I", "F", "LA", "RGBA") or (img.mode in ("L", "RGB") and not img.has_transparency_data):
        return img
    if img.mode in SIXTEEN_BIT:
        return img.convert("I")
    return img.convert("RGBA" if img.has_transparency_data else "RGB")


def _shrink(img: Image.Image, factor: int, drafted: int) -> tuple[Image.Image, tuple, tuple | None]:
    """A decoded, upright image -> (it box-averaged by `factor`, its full (w, h) before any
    shrinking, the box the full image covers in it; None when not shrunk). The box is what
    Pillow's own thumbnail() hands resize: reduce() leaves a partial last row and column."""
    full = (img.size[0] * drafted, img.size[1] * drafted)
    if factor > 1:
        try:
            img = _averageable(img).reduce(factor)
        except ValueError:  # a mode reduce cannot average: decode in full, images._pil_to_rgb judges it
            factor = 1
    scale = drafted * factor
    return img, full, (None if scale == 1 else (0, 0, full[0] / scale, full[1] / scale))


def decode(img: pathlib.Path | Image.Image, name: str, max_size: int | None = None):
    """Open (if a path), force the pixel decode, apply EXIF orientation, and above SHRINK_ABOVE
    pixels shrink while 8-bit -> _shrink's (image, full (w, h), box); Pillow errors -> ImageError."""
    try:
        if isinstance(img, pathlib.Path):
            with open(img, "rb") as fh, Image.open(fh) as opened:
                _check_pixels(opened, name)
                factor = _shrink_factor(opened.size, max_size)
                drafted = _draft(opened, factor)
                opened.load()  # lazy open would hide truncation until much later
                if factor // drafted < 2:
                    return _shrink(ImageOps.exif_transpose(opened), 1, drafted)
                ImageOps.exif_transpose(opened, in_place=True)  # a copy would double a big image
                shrunk, full, box = _shrink(opened, factor // drafted, drafted)
                return (shrunk.copy() if shrunk is opened else shrunk), full, box  # `with` closes opened
        _check_pixels(img, name)
        img.load()
        return _shrink(ImageOps.exif_transpose(img), _shrink_factor(img.size, max_size), 1)
    except (Image.DecompressionBombError, Image.DecompressionBombWarning) as err:
        found = re.search(r"\((\d+) pixels\)", str(err))
        raise _bomb_error(name, int(found.group(1)) if found else None) from err
    except ImageError:
        raise
    except UnidentifiedImageError as err:
        raise ImageError(
            f"{name} is not an image format Pillow can read. Check that it is really an "
            "image (e.g. PNG or JPEG) and not a text/HTML file with an image suffix."
        ) from err
    except PermissionError as err:
        raise ImageError(f"{name} cannot be read: permission denied. Fix its file permissions.") from err
    except (OSError, SyntaxError, ValueError, EOFError) as err:
        raise ImageError(f"{name} is truncated or corrupt ({err}). Re-download or re-export the file.") from err
