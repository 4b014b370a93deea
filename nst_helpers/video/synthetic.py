"""A tiny clip made from the bundled photo, for the tests and smoke mode: the camera pans and zooms
slowly over images/content.jpg while a coloured disc crosses the picture from left to right, so
that behind the disc a region is uncovered (disoccluded) in every frame: the case a flow cannot
follow, and the temporal loss must leave alone.

    path = make_clip("outputs/video/generated.mp4", frames=8, size=96)
"""
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core import images
from .clips import write_clip

PHOTO = Path(__file__).resolve().parents[2] / "images" / "content.jpg"
DISC_COLOUR = (0.98, 0.9, 0.2)   # a bright yellow: brighter than the photo around it, so the flow sees its
                                 # edge (a red one, as dark as the orange suit in grey, was lost on it)


@dataclass(frozen=True)
class Disc:
    """The disc in one frame: centre (x, y) and radius, in pixels of the frame."""
    x: float
    y: float
    r: float

    def mask(self, shape) -> torch.Tensor:
        """(1, 1, h, w): 1 inside the disc, 0 outside."""
        yy, xx = torch.meshgrid(torch.arange(shape[0]), torch.arange(shape[1]), indexing="ij")
        return (((xx - self.x) ** 2 + (yy - self.y) ** 2) <= self.r ** 2).float()[None, None]


def disc_at(t: int, frames: int, shape) -> Disc:
    """Where the disc is in frame t of `frames` for frames of (h, w) `shape`: it crosses the middle
    third's height from a quarter of the width to three quarters, a radius of a sixth of the height."""
    h, w = shape
    share = t / max(1, frames - 1)
    return Disc(x=w * (0.25 + 0.5 * share), y=h * 0.5, r=h / 6)


def frame_at(photo: torch.Tensor, t: int, frames: int, shape) -> torch.Tensor:
    """Frame t (1, 3, h, w): a window on `photo` (1, 3, H, W) that pans right and zooms in a little
    (a tenth over the clip), with the disc painted over it (the disc moves faster than the photo)."""
    h, w = shape
    _, _, H, W = photo.shape
    share = t / max(1, frames - 1)
    zoom = 1.0 + 0.1 * share
    ch = round(min(0.5 * H, 0.5 * W * h / w) / zoom)   # a window of the frame's aspect, half the photo's
    cw = round(ch * w / h)
    top, left = round((H - ch) * 0.4), round((W - cw) * (0.35 + 0.2 * share))
    window = images.resize_to(photo[..., top:top + ch, left:left + cw], shape)
    disc = disc_at(t, frames, shape)
    inside = disc.mask(shape)
    return window * (1 - inside) + torch.tensor(DISC_COLOUR).view(1, 3, 1, 1) * inside


def generated_frames(frames: int = 8, size: int = 96):
    """Yield the clip's frames, (1, 3, h, w) with h = size * 2 / 3 and w = size (a 3:2 picture)."""
    shape = (round(size * 2 / 3), size)
    photo = images.load_image(PHOTO)
    for t in range(frames):
        yield frame_at(photo, t, frames, shape)


def make_clip(path, frames: int = 8, size: int = 96, fps: float = 8.0) -> Path:
    """Write the generated clip to `path` (.mp4 or .gif) and return it; an existing one of the same
    name is replaced (atomically: a reader never sees half a clip)."""
    Path(path).parent.mkdir(parents=True, exist_ok=True)
    return write_clip(generated_frames(frames, size), path, fps)
