"""Reading and writing clips, a frame at a time: a clip is never all in memory.

mp4, avi and the rest go through imageio-ffmpeg's ffmpeg (it comes with its own binary, so no
system ffmpeg is needed); GIFs through Pillow (ffmpeg guesses a GIF's frame rate, Pillow
reads each frame's own duration; a GIF keeps time in hundredths of a second, so 8 fps comes back
as 1/0.13 s: mp4 keeps any rate). Frames come out as (1, 3, H, W) float tensors in [0, 1],
resized by images.load_image's rule (longest side `size`, LANCZOS), the picture runs' own.

Every bad clip raises ClipError, one line: what is wrong (not a video, no frames, a codec this ffmpeg
cannot decode, named) and what to do.
"""
import re
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from ..core.files import atomic_file, path_problem
from ..core.images import load_image

GIF = (".gif",)
CLIP_SUFFIXES = (".mp4", ".avi", ".mov", ".webm", ".mkv", ".m4v", *GIF)   # what a face takes for a clip
CONVERT = "convert it to H.264, e.g. ffmpeg -i {name} -c:v libx264 -pix_fmt yuv420p clip.mp4"


class ClipError(ValueError):
    """A clip that cannot be read or written; the message says what and how to fix it."""


@dataclass(frozen=True)
class ClipInfo:
    """What a clip's header says. size: (w, h) in pixels; frames: None when it cannot be told
    without decoding it all (ffmpeg: estimated from the duration times the frame rate)."""
    path: str
    fps: float
    size: tuple
    frames: int | None
    codec: str
    seconds: float | None


def _ffmpeg_problem(name: str, err: Exception) -> ClipError:
    """imageio-ffmpeg's OSError (ffmpeg's whole log) as one line: what ffmpeg found wrong."""
    log = str(err)
    if "no decoder found" in log or "Decoder not found" in log:
        found = re.search(r"Video: (\S+)(?: \(([^)/]+))?", log)
        codec = (found.group(2) or found.group(1)).strip() if found else "unknown"
        codec = codec if codec != "none" else "unknown"
        return ClipError(f"{name}: its video codec {codec!r} cannot be decoded by this ffmpeg (imageio-ffmpeg's); "
                         + CONVERT.format(name=name))
    if "does not contain any stream" in log or "Output file is empty" in log:
        return ClipError(f"{name} has no video frames (no video stream, or an empty one); pass a clip with frames")
    if "Invalid data found" in log or "moov atom not found" in log or "Could not load meta" in log:
        return ClipError(f"{name} is not a video ffmpeg can read (its data is not a video container); pass an mp4, "
                         "avi, mov, webm or gif file")
    last = [line.strip() for line in log.splitlines() if line.strip()][-1:] or ["unknown error"]
    return ClipError(f"{name}: ffmpeg cannot read it ({last[0]}); " + CONVERT.format(name=name))


def _checked_path(path) -> Path:
    if problem := path_problem(path):
        raise ClipError(problem.replace("an image file", "a video file").replace("the image", "the clip"))
    return Path(path)


def probe(path) -> ClipInfo:
    """The clip's frame rate, size, frame count (when known), codec and length, from its header."""
    path = _checked_path(path)
    if path.suffix.lower() in GIF:
        return _probe_gif(path)
    import imageio_ffmpeg
    reader = imageio_ffmpeg.read_frames(str(path))
    try:
        meta = next(reader)
    except OSError as err:
        raise _ffmpeg_problem(str(path), err) from None
    finally:
        reader.close()
    seconds = meta.get("duration") or None
    fps = float(meta.get("fps") or 0)
    if fps <= 0:
        raise ClipError(f"{path}: its frame rate is unknown; " + CONVERT.format(name=path))
    frames = round(seconds * fps) if seconds else None
    return ClipInfo(str(path), fps, tuple(meta["size"]), frames, str(meta.get("codec", "")), seconds)


def _probe_gif(path: Path) -> ClipInfo:
    from PIL import Image, UnidentifiedImageError
    try:
        with Image.open(path) as img:
            n, size = getattr(img, "n_frames", 1), img.size
            ms = img.info.get("duration") or 100   # a GIF without a frame time: browsers show 10 fps
    except (UnidentifiedImageError, OSError, SyntaxError) as err:
        raise ClipError(f"{path} is not a GIF Pillow can read ({err}); pass an mp4, avi or gif file") from None
    fps = 1000.0 / ms
    return ClipInfo(str(path), fps, size, n, "gif", n / fps)


def read_frames(path, size: int | None = None, max_frames: int | None = None, start: float = 0.0):
    """Yield the clip's frames from `start` seconds on, at most `max_frames` of them, as (1, 3, H, W)
    float tensors in [0, 1] with the longest side `size` (None: the clip's own), one at a time."""
    path = _checked_path(path)
    if max_frames is not None and max_frames < 1:
        return
    if path.suffix.lower() in GIF:
        raw = _gif_frames(path, start)
    else:
        import imageio_ffmpeg
        raw = imageio_ffmpeg.read_frames(str(path), input_params=["-ss", f"{start:.6f}"] if start else None)
        try:
            meta = next(raw)
        except OSError as err:
            raise _ffmpeg_problem(str(path), err) from None
        w, h = meta["size"]
        raw = (np.frombuffer(b, np.uint8).reshape(h, w, 3) for b in raw)
    count = 0
    try:
        for frame in raw:
            yield load_image(frame, max_size=size)
            count += 1
            if max_frames is not None and count >= max_frames:
                break
    finally:
        raw.close()   # ffmpeg's process ends with the generator
    if count == 0:
        where = f" from {start:g} s on (the clip is shorter; use a smaller --start)" if start else ""
        raise ClipError(f"{path} has no video frames{where}; pass a clip with frames")


def _gif_frames(path: Path, start: float):
    """(H, W, 3) uint8 frames of a GIF from `start` seconds on, each frame's own duration counted."""
    from PIL import Image, ImageSequence
    t = 0.0
    with Image.open(path) as img:
        for frame in ImageSequence.Iterator(img):
            t += (frame.info.get("duration") or 100) / 1000.0
            if t > start + 1e-9:
                yield np.asarray(frame.convert("RGB"))


def _uint8(frame: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W, 3) uint8, rounded as images.to_pil rounds."""
    return (frame[0].detach().float().clamp(0, 1) * 255).round().to(torch.uint8).permute(1, 2, 0).contiguous().numpy()


MAX_FPS = 1000.0   # frames a second: past this no player shows them (1e9 wrote a 0-second video)


def fps_problem(fps) -> str | None:
    """Why `fps` is not a frame rate to write a video at, or None (checked before a video starts: --fps)."""
    if isinstance(fps, bool) or not isinstance(fps, (int, float)) or not 0 < fps <= MAX_FPS:
        shown = f"{fps:g}" if isinstance(fps, float) else repr(fps)
        return f"{shown} is not a frame rate; give one above 0 and at most {MAX_FPS:g}, e.g. 24"
    return None


def write_clip(frames, path, fps: float) -> Path:
    """Write (1, 3, H, W) frames (an iterable, consumed one at a time) to `path`, atomically: .mp4
    (H.264, yuv420p: plays everywhere; odd sides are padded by one black pixel) or .gif, at `fps`."""
    path = Path(path)
    with atomic_file(path) as tmp:
        if path.suffix.lower() in GIF:
            _write_gif(frames, tmp, fps)
        else:
            _write_ffmpeg(frames, tmp, fps)
    return path


def _write_ffmpeg(frames, tmp, fps: float) -> None:
    import imageio_ffmpeg
    writer, n = None, 0
    try:
        for frame in frames:
            hwc = _uint8(frame)
            if writer is None:
                h, w = hwc.shape[:2]
                writer = imageio_ffmpeg.write_frames(
                    str(tmp), (w, h), fps=fps, codec="libx264", pix_fmt_out="yuv420p", quality=None,
                    macro_block_size=1, ffmpeg_log_level="error",
                    output_params=["-crf", "18", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2"])
                writer.send(None)
            writer.send(np.ascontiguousarray(hwc).tobytes())
            n += 1
    finally:
        if writer is not None:
            writer.close()
    if n == 0:
        raise ClipError(f"no frames to write to {tmp}; stylise at least one frame first")


def _write_gif(frames, tmp, fps: float) -> None:
    from PIL import Image
    images = (Image.fromarray(_uint8(f)) for f in frames)
    first = next(images, None)
    if first is None:
        raise ClipError(f"no frames to write to {tmp}; stylise at least one frame first")
    first.save(tmp, format="GIF", save_all=True, append_images=images, duration=round(1000 / fps), loop=0)
