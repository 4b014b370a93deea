"""Load, convert, resize and save images as (1, 3, H, W) float32 tensors in [0, 1].

Every bad input raises ImageError naming the file (or "the given array/image/tensor"),
what is wrong and how to fix it.
"""

from __future__ import annotations

import os
import pathlib

import numpy as np
import torch
import torch.nn.functional as F
from PIL import Image

from .decode import SIXTEEN_BIT, ImageError, decode
from .files import atomic_file, path_problem

_SAVE_FORMATS = {".png": "PNG", ".jpg": "JPEG", ".jpeg": "JPEG"}
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")   # what a folder of pictures is taken to hold


def _over_white(rgba: np.ndarray) -> np.ndarray:
    """(H, W, 4) float in [0, 1] -> (H, W, 3): alpha-composite on white."""
    return rgba[..., :3] * rgba[..., 3:4] + (1.0 - rgba[..., 3:4])


def _array_to_rgb(arr: np.ndarray, name: str, ints: str = "uint8/uint16") -> np.ndarray:
    """(H, W), (H, W, 1), (H, W, 3) or (H, W, 4) array -> (H, W, 3) float32 in [0, 1].
    ints: the integer types the fix suggests (tensors have no uint16)."""
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
        if bad := int(np.size(out) - np.isfinite(out).sum()):
            raise ImageError(
                f"{name} has {bad:,} NaN or infinite value(s), but float images must be finite and in "
                "[0, 1]. Find what made them, or replace them (e.g. nan_to_num(x, nan=0.0))."
            )
        lo, hi = float(out.min()), float(out.max())
        # A small tolerance forgives rounding noise from earlier float maths.
        if lo < -1e-6 or hi > 1.0 + 1e-6:
            raise ImageError(
                f"{name} has float values in [{lo:g}, {hi:g}], but float images must lie in "
                f"[0, 1]. Rescale it (e.g. divide 0-255 data by 255) or pass {ints}."
            )
        out = np.clip(out, 0.0, 1.0)
    else:
        raise ImageError(f"{name} has unsupported dtype {arr.dtype}. Convert it to uint8, uint16 or float.")
    if out.ndim == 2:
        return np.repeat(out[..., None], 3, axis=2)
    return _over_white(out) if out.shape[2] == 4 else out


def tensor_to_rgb(t: torch.Tensor, name: str = "the given tensor", min_size: int = 32) -> torch.Tensor:
    """(C, H, W) or (1, C, H, W) tensor, C = 1, 3 or 4, on any device -> (1, 3, H, W) float32 CPU
    tensor in [0, 1], by the rules for arrays: uint8 is 0-255, floats (16 to 64 bit) must be
    finite and in [0, 1], grey is repeated, RGBA composited on white. Not resized."""
    shape = tuple(t.shape)
    if t.dim() == 4 and shape[0] > 1:
        raise ImageError(f"{name} has batch size {shape[0]}; run() stylises one image at a time: "
                         "pass t[0:1], or loop over the batch.")
    if t.dim() not in (3, 4) or 0 in shape or shape[-3] not in (1, 3, 4):
        last = shape[-1:] in [(1,), (3,), (4,)]
        hint = "; for channels-last data move the channels first (e.g. t.permute(2, 0, 1))" if last else ""
        raise ImageError(f"{name} has shape {shape}, which is not an image. Pass a (C, H, W) or "
                         f"(1, C, H, W) tensor with C = 1 (grey), 3 (RGB) or 4 (RGBA){hint}.")
    if t.dtype != torch.uint8 and not t.dtype.is_floating_point:
        raise ImageError(f"{name} has dtype {t.dtype}, which is not an image type. "
                         "Convert it to float in [0, 1] or uint8.")
    _check_min_side(shape[-1], shape[-2], name, min_size, "Use a larger image")
    # float32 before numpy: it has no bfloat16; exact for float16/bfloat16, the rounding .float() does for float64
    chw = t.detach().reshape(shape[-3:]).to("cpu", torch.uint8 if t.dtype == torch.uint8 else torch.float32)
    rgb = _array_to_rgb(chw.permute(1, 2, 0).numpy(), name, ints="uint8")
    return torch.from_numpy(rgb).permute(2, 0, 1).unsqueeze(0).contiguous()


def _pil_to_rgb(img: Image.Image, name: str) -> np.ndarray:
    """Any (decoded) PIL image -> (H, W, 3) float32 in [0, 1]."""
    if img.mode in SIXTEEN_BIT:
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


def _resize(rgb: np.ndarray, new_w: int, new_h: int, box: tuple | None) -> np.ndarray:
    """(H, W, 3) float -> (new_h, new_w, 3); box: the part of rgb that is the image (see _shrink)."""
    if box is None and (new_w, new_h) == rgb.shape[1::-1]:
        return rgb
    # Resize each channel as a 32-bit float ("F") image with LANCZOS, after alpha
    # compositing: keeps 16-bit precision and stops hidden colours of transparent
    # pixels bleeding in. LANCZOS overshoots at edges, hence the clip.
    chans = [Image.fromarray(np.ascontiguousarray(rgb[..., c])) for c in range(3)]
    chans = [np.asarray(ch.resize((new_w, new_h), Image.Resampling.LANCZOS, box=box)) for ch in chans]
    return np.clip(np.stack(chans, axis=2), 0.0, 1.0)


def _check_min_side(w: int, h: int, name: str, min_size: int, fix: str) -> None:
    if min(h, w) < min_size:
        raise ImageError(
            f"{name} is {w}x{h} pixels; its shorter side {min(h, w)} is below the minimum of "
            f"{min_size} the backbone needs. {fix}."
        )


def _fit(rgb: np.ndarray, full: tuple, box: tuple | None, name: str, max_size: int | None, min_size: int) -> np.ndarray:
    """(h, w, 3) float -> its longest side max_size; full: the image's (w, h) before any
    shrinking while it was decoded (box: where it lies in rgb), so sizes and errors do not depend on it."""
    w, h = full
    _check_min_side(w, h, name, min_size, "Use a larger image")  # upscaling a 1x1 image invents it
    if max_size is None:
        return rgb
    scale = max_size / max(h, w)
    new_w, new_h = max(1, round(w * scale)), max(1, round(h * scale))
    if Image.MAX_IMAGE_PIXELS is not None and new_w * new_h > Image.MAX_IMAGE_PIXELS:
        # refuse before allocating: 20000 px square is 4.8 GB per float image
        raise ImageError(
            f"a requested size of {max_size} px (longest side) would make {name} {new_w * new_h:,} "
            f"pixels, more than the limit of {Image.MAX_IMAGE_PIXELS:,} "
            "(PIL.Image.MAX_IMAGE_PIXELS). Ask for a smaller size, e.g. 512 or 1024."
        )
    _check_min_side(new_w, new_h, name, min_size, "Use a larger max_size (--size) or a less elongated image")
    return _resize(rgb, new_w, new_h, box)


def load_image(source, max_size: int | None = None, min_size: int = 32) -> torch.Tensor:
    """Path, PIL image or (H, W[, 1|3|4]) array -> (1, 3, H, W) float32 tensor in [0, 1].

    A path must be a regular file (a pipe or device is refused, never opened). Arrays: uint8
    and uint16 are scaled by their maximum, floats must be finite and in [0, 1]. Alpha is
    composited on white. With max_size the longest side becomes exactly max_size (LANCZOS,
    up or down; an image over 16 Mpx is first shrunk while 8-bit, to no less than twice that).
    Tensors: tensor_to_rgb. Raises ImageError on any bad input.
    """
    if max_size is not None and (isinstance(max_size, bool) or not isinstance(max_size, int) or max_size < 1):
        raise ImageError(f"max_size must be a positive int or None, got {max_size!r}; pass e.g. max_size=512.")
    if isinstance(source, (str, os.PathLike)):
        path = pathlib.Path(source)
        name = str(path)
        if problem := path_problem(path):
            raise ImageError(problem)
        img, full, box = decode(path, name, max_size)
        rgb = _pil_to_rgb(img, name)
    elif isinstance(source, Image.Image):
        name = "the given image"
        img, full, box = decode(source, name, max_size)
        rgb = _pil_to_rgb(img, name)
    elif isinstance(source, np.ndarray):
        name = "the given array"
        rgb = _array_to_rgb(source, name)
        full, box = rgb.shape[1::-1], None
    else:
        msg = f"the given {type(source).__name__} is not an image source."
        raise ImageError(msg + " Pass a file path, a PIL.Image.Image or a numpy array.")
    rgb = _fit(rgb, full, box, name, max_size, min_size)
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
