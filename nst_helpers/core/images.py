"""Load, convert, resize and save images as (1, 3, H, W) float32 tensors in [0, 1].

Every bad input raises ImageError naming the file (or "the given array/image"),
what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import pathlib
import re

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image, ImageOps, UnidentifiedImageError

from .files import atomic_file, path_problem

_SIXTEEN_BIT = ("I;16", "I;16B", "I;16L", "I;16N", "I")
_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}


class ImageError(ValueError):
    """An image could not be loaded, converted or saved; the message says why and how to fix it."""


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) float in [0, 1] -> (H, W, 3): alpha-composite on white."""
    return rgba[..., :3] * rgba[..., 3:4] + (1.0 - rgba[..., 3:4])


def _array_to_rgb(arr: np.ndarray, name: str) -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array -> (H, W, 3) float32 in [0, 1]."""
    if arr.ndim == 3 and arr.shape[2] == 1:
        arr = arr[..., 0]
    if not (arr.ndim == 2 or (arr.ndim == 3 and arr.shape[2] in (3, 4))) or arr.size == 0:
        raise ImageError(
            f"{name} has shape {arr.shape}, which is not an image. Pass a channels-last "
            "(H, W), (H, W, 3) or (H, W, 4) array (for (C, H, W) use arr.transpose(1, 2, 0))."
        )
    if arr.dtype in (np.uint8, np.uint16):
        out = arr.astype(np.float32) / np.iinfo(arr.dtype).max
    elif np.issubdtype(arr.dtype, np.floating):
        out = arr.astype(np.float32)
        lo, hi = float(out.min()), float(out.max())
        # A small tolerance forgives rounding noise from earlier float maths.
        if not np.isfinite(out).all() or lo < -1e-6 or hi > 1.0 + 1e-6:
            raise ImageError(
                f"{name} has float values in [{lo:g}, {hi:g}], but float images must lie in "
                "[0, 1]. Rescale it (e.g. divide 0-255 data by 255) or pass uint8/uint16."
            )
        out = np.clip(out, 0.0, 1.0)
    else:
        raise ImageError(f"{name} has unsupported dtype {arr.dtype}. Convert it to uint8, uint16 or float.")
    if out.ndim == 2:
        return np.repeat(out[..., None], 3, axis=2)
    return _over_white(out) if out.shape[2] == 4 else out


def _pil_to_rgb(img: Image.Image, name: str) -> np.ndarray:
    """Any (decoded) PIL image -> (H, W, 3) float32 in [0, 1]."""
    if img.mode in _SIXTEEN_BIT:
        # Going through convert("L") would throw away 8 of the 16 bits (and
        # clips "I" at 255), so scale the raw integers ourselves.
        gray = np.clip(np.asarray(img).astype(np.float32) / 65535.0, 0.0, 1.0)
        return np.repeat(gray[..., None], 3, axis=2)
    if img.mode == "F":
        return _array_to_rgb(np.asarray(img), name)
    try:
        if img.has_transparency_data:
            # convert("RGBA") resolves palette alpha and tRNS "transparency" keys.
            return _over_white(np.asarray(img.convert("RGBA"), dtype=np.float32) / 255.0)
        return np.asarray(img.convert("RGB"), dtype=np.float32) / 255.0
    except ValueError as err:
        msg = f"{name} has image mode {img.mode!r}, which cannot be converted to RGB ({err})."
        raise ImageError(msg + " Convert it to RGB in an image editor first.") from err


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


def _decode(img: pathlib.Path | Image.Image, name: str) -> Image.Image:
    """Open (if a path), force the pixel decode, apply EXIF orientation; Pillow errors -> ImageError."""
    try:
        if isinstance(img, pathlib.Path):
            with open(img, "rb") as fh, Image.open(fh) as opened:
                _check_pixels(opened, name)
                opened.load()  # lazy open would hide truncation until much later
                return ImageOps.exif_transpose(opened)
        _check_pixels(img, name)
        img.load()
        return ImageOps.exif_transpose(img)
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


def _resize_longest(rgb: np.ndarray, max_size: int) -> np.ndarray:
    """(H, W, 3) float -> resized so max(H, W) == max_size, aspect ratio kept."""
    h, w = rgb.shape[:2]
    scale = max_size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if (new_w, new_h) == (w, h):
        return rgb
    # Resize each channel as a 32-bit float ("F") image with LANCZOS, after alpha
    # compositing: keeps 16-bit precision and stops hidden colours of transparent
    # pixels bleeding in. LANCZOS overshoots at edges, hence the clip.
    chans = [Image.fromarray(np.ascontiguousarray(rgb[..., c])) for c in range(3)]
    chans = [np.asarray(ch.resize((new_w, new_h), Image.Resampling.LANCZOS)) for ch in chans]
    return np.clip(np.stack(chans, axis=2), 0.0, 1.0)


def _check_min_side(rgb: np.ndarray, name: str, min_size: int, fix: str) -> None:
    h, w = rgb.shape[:2]
    if min(h, w) < min_size:
        raise ImageError(
            f"{name} is {w}x{h} pixels; its shorter side {min(h, w)} is below the minimum of "
            f"{min_size} the backbone needs. {fix}."
        )


def load_image(source, max_size: int | None = None, min_size: int = 32) -> torch.Tensor:
    """Path, PIL image or (H, W[, 3|4]) array -> (1, 3, H, W) float32 tensor in [0, 1].

    Alpha is composited on white; with max_size the longest side becomes exactly
    max_size (up- or downscaling). Raises ImageError on any bad input.
    """
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
        raise ImageError(f"max_size must be a positive int or None, got {max_size!r}; pass e.g. max_size=512.")
    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        name = str(path)
        if problem := path_problem(path):
            raise ImageError(problem)
        rgb = _pil_to_rgb(_decode(path, name), name)
    elif isinstance(source, Image.Image):
        name = "the given image"
        rgb = _pil_to_rgb(_decode(source, name), name)
    elif isinstance(source, np.ndarray):
        name = "the given array"
        rgb = _array_to_rgb(source, name)
    else:
        msg = f"the given {type(source).__name__} is not an image source."
        raise ImageError(msg + " Pass a file path, a PIL.Image.Image or a numpy array.")
    _check_min_side(rgb, name, min_size, "Use a larger image")  # upscaling a 1x1 image invents it
    if max_size is not None:
        h, w = rgb.shape[:2]
        scale = max_size / max(h, w)
        pixels = max(1, round(w * scale)) * max(1, round(h * scale))
        if Image.MAX_IMAGE_PIXELS is not None and pixels > Image.MAX_IMAGE_PIXELS:
            # refuse before allocating: 20000 px square is 4.8 GB per float image
            raise ImageError(
                f"a requested size of {max_size} px (longest side) would make {name} {pixels:,} "
                f"pixels, more than the limit of {Image.MAX_IMAGE_PIXELS:,} "
                "(PIL.Image.MAX_IMAGE_PIXELS). Ask for a smaller size, e.g. 512 or 1024."
            )
        rgb = _resize_longest(rgb, max_size)
        _check_min_side(rgb, name, min_size, "Use a larger max_size (--size) or a less elongated image")
    return torch.from_numpy(np.ascontiguousarray(rgb, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0).contiguous()


def to_pil(image: torch.Tensor) -> Image.Image:
    """(1, 3, H, W) or (3, H, W) float tensor in [0, 1] -> RGB uint8 PIL image (clamped, NaN -> 0, rounded)."""
    if not isinstance(image, torch.Tensor) or not (
        (image.dim() == 4 and image.shape[:2] == (1, 3)) or (image.dim() == 3 and image.shape[0] == 3)
    ):
        shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
        raise ImageError(f"the given image has shape {shape}; expected a (1, 3, H, W) or (3, H, W) tensor.")
    chw = image.detach().reshape(3, *image.shape[-2:]).to("cpu", torch.float32)
    chw = torch.nan_to_num(chw, nan=0.0).clamp(0.0, 1.0)
    hwc = (chw * 255.0).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()
    return Image.fromarray(hwc)


def save_image(image, path) -> pathlib.Path:
    """Atomically save a tensor (see to_pil) or PIL image as .png or .jpg/.jpeg (quality 95)."""
    path = pathlib.Path(path)
    fmt = _SAVE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageError(f"{path}: unsupported suffix {path.suffix!r}. Use .png, .jpg or .jpeg.")
    pil = image if isinstance(image, Image.Image) else to_pil(image)
    if fmt == "JPEG" and pil.mode not in ("RGB", "L"):
        # JPEG has no alpha; flatten on white like load_image does.
        rgba = pil.convert("RGBA")
        pil = Image.alpha_composite(Image.new("RGBA", rgba.size, "white"), rgba).convert("RGB")
    path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(path) as tmp, open(tmp, "wb") as fh:
        pil.save(fh, format=fmt, **({"quality": 95} if fmt == "JPEG" else {}))
    return path


def resize_to(image: torch.Tensor, size: tuple[int, int]) -> torch.Tensor:
    """Resize a (N, C, H, W) tensor to size=(H2, W2), bicubic + antialias, clamped to [0, 1]."""
    if image.dim() != 4:
        raise ImageError(f"the given image has shape {tuple(image.shape)}; resize_to expects (N, C, H, W).")
    h2, w2 = (int(s) for s in size)
    if h2 < 1 or w2 < 1:
        raise ImageError(f"the requested size {tuple(size)} is not positive. Pass (height, width) >= 1.")
    out = F.interpolate(image, size=(h2, w2), mode="bicubic", antialias=True, align_corners=False)
    return out.clamp(0.0, 1.0)
