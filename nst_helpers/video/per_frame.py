"""A clip through any picture-to-picture function, frame by frame: how a feed-forward network
(python -m nst_helpers stylize --model M.pt clip.mp4) stylises a video. Streamed (one frame in
memory at a time), at the clip's frame rate, with the flicker measured as for an optimised video:
the warping error of each stylised frame against the one before, warped by the input's flow.

    report = map_clip("clip.mp4", lambda x: stylize(x, net), "out/clip.mp4", size=384)

No temporal loss here: a network is a fixed function of its input, so a still scene gives the same
picture each frame; what flickers is what the network does with small changes (noise, moving people).
"""
import time
from pathlib import Path

from . import clips
from .flow import frame_flow
from .temporal import pair_error


def map_clip(clip, picture_fn, path, size: int | None = None, max_frames: int | None = None,
             start: float = 0.0, measure: bool = True) -> dict:
    """Each frame of `clip` ((1, 3, H, W) in [0, 1], longest side `size`) through `picture_fn`, written
    to `path` (.mp4 or .gif) at the clip's fps. Returns {"path", "frames", "seconds_per_frame" (the
    function alone), "warping_error" (mean over pairs; None with one frame or measure=False)}."""
    info = clips.probe(clip)
    errors, spent = [], []

    def stylised():
        before = None   # (input frame, stylised frame) of the frame before
        for frame in clips.read_frames(clip, size, max_frames, start):
            t0 = time.perf_counter()
            out = picture_fn(frame)
            spent.append(time.perf_counter() - t0)
            if measure and before is not None:
                errors.append(pair_error(out, before[1], *frame_flow(frame, before[0])))
            before = (frame, out)
            yield out

    written = clips.write_clip(stylised(), Path(path), info.fps)
    if not spent:
        raise clips.ClipError(f"{clip} gave no frames from {start:g} s on; give an earlier start or another clip")
    return {"path": written, "frames": len(spent), "seconds_per_frame": sum(spent) / len(spent),
            "warping_error": sum(errors) / len(errors) if errors else None}
