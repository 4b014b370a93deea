"""What notebook 07 (flicker and its cure) uses: which clip it runs on, and the pictures it shows.

    clip, frames, note = video.choose_clip(clip_path, max_frames, s)   # s: settings.settings(...)
    notebook.show(notebook.image_grid(video.side_by_side(result, clip, s.config().size), columns=3))
"""
from pathlib import Path

from ..core.images import load_image
from ..video import clips, synthetic
from ..video import folder as vf
from ..video.flow import frame_flow, warp

VTEST = Path("/usr/share/doc/opencv-doc/examples/data/vtest.avi")   # Debian's opencv-doc package
SMOKE_FRAMES = 4           # NST_SMOKE=1: a few frames of the generated clip
GENERATED = {"frames": 16, "size": 256}   # the generated clip when there is no other


def choose_clip(clip_path, max_frames: int, s) -> tuple[Path, int, str]:
    """(the clip, how many frames to stylise, a line saying which and why): the given clip, else
    vtest.avi where opencv-doc is installed, else the generated clip (always in smoke mode)."""
    if s.smoke or (clip_path is None and not VTEST.is_file()):
        frames, size = (SMOKE_FRAMES, 96) if s.smoke else (GENERATED["frames"], GENERATED["size"])
        path = synthetic.make_clip(s.outputs / "video" / f"generated-{frames}x{size}.mp4", frames=frames, size=size)
        why = ("smoke mode" if s.smoke else f"no clip given and no {VTEST} (`make data` installs Debian's "
               "opencv-doc package for it where apt exists; or set clip_path to any mp4/avi/gif)")
        return path, min(frames, max_frames), f"the generated clip ({why}): {path}"   # max_frames holds here too
    path = Path(clip_path) if clip_path is not None else VTEST
    return path, max_frames, f"clip {path}"


def describe(path, frames: int) -> str:
    """The clip's header in a line: size, rate, length, codec."""
    info = clips.probe(path)
    length = f"{info.frames} frames" if info.frames else "length unknown"
    return (f"{info.size[0]}x{info.size[1]} px, {info.fps:g} fps, {length}, {info.codec}; "
            f"stylising the first {frames}")


def side_by_side(result, clip, size: int, frames=None) -> dict:
    """{title: (1, 3, h, w)} of a few frames (default: the first, middle and last) as input | frame
    by frame | with the temporal loss, for notebook.image_grid(..., columns=3)."""
    n = result.frames
    frames = sorted(set(frames or (0, n // 2, n - 1)))
    out = {}
    for t, frame in enumerate(clips.read_frames(clip, size, n)):
        if t in frames:
            out[f"input {t}"] = frame
            out[f"frame by frame {t}"] = load_image(vf.frame_png(result.folder, vf.PLAIN, t))
            out[f"temporal {t}"] = load_image(vf.frame_png(result.folder, vf.MAIN, t))
    return out


def flicker_pictures(result, clip, size: int, t: int) -> dict:
    """{title: (1, 3, h, w)}: where frame t differs from frame t - 1 warped to it, frame by frame and
    with the temporal loss (the difference x4, black where the flow is unreliable): flicker, seen."""
    inputs = list(clips.read_frames(clip, size, t + 1))[t - 1:]
    backward, mask = frame_flow(inputs[1], inputs[0])
    out = {"reliable (white)": mask.expand(-1, 3, -1, -1)}
    for label, sub in (("frame by frame", vf.PLAIN), ("temporal", vf.MAIN)):
        now, before = (load_image(vf.frame_png(result.folder, sub, k)) for k in (t, t - 1))
        out[f"{label}: |frame {t} - warped {t - 1}|"] = ((now - warp(before, backward)).abs() * 4 * mask).clamp(0, 1)
    return out
