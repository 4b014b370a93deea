"""Generate images/swirls.jpg: a swirling, Van-Gogh-ish painting of thick brush strokes.

Deterministic (fixed seed, numpy + Pillow only), so the project owns the image
outright and can release it under its own licence. Run from the repo root:

    python images/make_style.py            # writes images/swirls.jpg

The picture has texture at several scales (large vortices, medium strokes,
fine hatching), vivid saturated colours and hard edges (moon halo rings, a dark
cypress silhouette), so a style transfer onto a photo is plainly visible.
"""

from __future__ import annotations

import pathlib
import sys

import numpy as np
from PIL import Image, ImageDraw, ImageFilter

SIZE = 512
SEED = 1889  # the year of The Starry Night
SKY = ["#0a1a4f", "#163d94", "#2c67c4", "#4f9ad9", "#86d0e3"]
HILLS = ["#0d2a3a", "#1b5a5e", "#2f7d4f", "#8fb03a", "#d9a21b", "#1f3f8a"]
CYPRESS = ["#07140c", "#12301a", "#1e4a2a", "#3b3520"]
WARM = ["#fff3b0", "#f8d93a", "#f5a623", "#ec6a1e"]


def _hex(c: str) -> np.ndarray:
    return np.array([int(c[i : i + 2], 16) for i in (1, 3, 5)], dtype=np.float64)


def _ramp(palette: list[str], t: np.ndarray) -> np.ndarray:
    """Map t in [0, 1] (any shape) onto a piecewise-linear colour ramp -> (..., 3)."""
    cols = np.stack([_hex(c) for c in palette])
    x = np.clip(t, 0, 1) * (len(palette) - 1)
    i = np.minimum(x.astype(int), len(palette) - 2)
    f = (x - i)[..., None]
    return cols[i] * (1 - f) + cols[i + 1] * f


def _smooth_noise(rng: np.random.Generator, yy, xx, waves: int, scale: float) -> np.ndarray:
    """Sum of random plane waves, normalised to [0, 1]: cheap band-limited noise."""
    out = np.zeros_like(xx)
    for _ in range(waves):
        k = rng.normal(size=2) * 2 * np.pi / scale
        out += np.sin(k[0] * xx + k[1] * yy + rng.uniform(0, 2 * np.pi))
    return (out - out.min()) / (out.max() - out.min())


def make_style(seed: int = SEED, size: int = SIZE) -> Image.Image:
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[0:size, 0:size].astype(np.float64)
    horizon = 0.72 * size + 0.06 * size * np.sin(xx / size * 2 * np.pi * 1.3 + 0.8)
    hills = yy > horizon
    # Flame-shaped cypress on the left: narrows towards the top.
    cx = 0.17 * size + 0.02 * size * np.sin(yy / 23.0)
    half_w = 0.09 * size * np.clip((yy - 0.08 * size) / (0.9 * size), 0, 1) ** 0.7
    cypress = np.abs(xx - cx) < half_w

    # Flow field: vortices + a rolling horizontal wave in the sky, gentle
    # undulation on the hills, upward flicker in the cypress.
    vortices = [(0.55, 0.35, 0.16, 1.0), (0.30, 0.22, 0.10, -1.0), (0.80, 0.55, 0.12, 1.0)]
    vx = np.ones_like(xx)
    vy = 0.6 * np.sin(xx / 60.0 + yy / 45.0)
    for ux, uy, r, spin in vortices:
        dx, dy = xx - ux * size, yy - uy * size
        w = 3.5 * np.exp(-(dx**2 + dy**2) / (2 * (r * size) ** 2))
        d = np.hypot(dx, dy) + 1e-6
        vx += spin * w * (-dy / d)
        vy += spin * w * (dx / d)
    vx[hills], vy[hills] = 1.0, 0.25 * np.sin(xx[hills] / 40.0)
    vx[cypress], vy[cypress] = 0.25 * np.sin(yy[cypress] / 9.0), -1.0
    angle = np.arctan2(vy, vx)

    # Colour field: blue sky with noisy bands, yellow/orange rings around a moon
    # and stars, green-blue hills, near-black cypress.
    colour = _ramp(SKY, _smooth_noise(rng, yy, xx, 6, 0.6 * size))
    moon = [(0.84, 0.14, 0.065), (0.45, 0.11, 0.04), (0.68, 0.31, 0.035), (0.33, 0.45, 0.03)]
    for ux, uy, r in moon:
        d = np.hypot(xx - ux * size, yy - uy * size) / (r * size)
        rings = (np.cos((d - 1) * np.pi * 1.6) > -0.2).astype(float)  # hard light/dark halo rings
        halo = np.where(d < 1, 1.0, np.clip(1.5 - d / 3.5, 0, 1) * rings)
        glow = _ramp(WARM, d / 3.0)
        colour = colour * (1 - halo[..., None]) + glow * halo[..., None]
    colour[hills] = _ramp(HILLS, _smooth_noise(rng, yy, xx, 5, 0.3 * size))[hills]
    colour[cypress] = _ramp(CYPRESS, _smooth_noise(rng, yy, xx, 4, 0.15 * size))[cypress]

    img = Image.fromarray(colour.astype(np.uint8)).filter(ImageFilter.GaussianBlur(6))
    draw = ImageDraw.Draw(img)

    # Three passes of strokes, coarse to fine: each stroke follows the flow field
    # and is drawn dark-and-wide then light-and-narrow, like a loaded brush ridge.
    for count, length, width in [(2200, 14, 9), (5000, 9, 5), (7000, 5, 2)]:
        for _ in range(count):
            x, y = rng.uniform(0, size, 2)
            base = colour[int(y), int(x)] + rng.normal(0, 14, 3)
            pts = [(x, y)]
            for _ in range(length):
                a = angle[int(np.clip(y, 0, size - 1)), int(np.clip(x, 0, size - 1))]
                x, y = x + 3.0 * np.cos(a), y + 3.0 * np.sin(a)
                pts.append((x, y))
            dark = tuple(int(v) for v in np.clip(base * 0.6, 0, 255))
            light = tuple(int(v) for v in np.clip(base * 1.12 + 10, 0, 255))
            draw.line(pts, fill=dark, width=width + 2, joint="curve")
            draw.line(pts, fill=light, width=max(1, width - 1), joint="curve")

    # Hard edges: dark outlines along the cypress and the hill crest.
    for edge in (cypress, hills):
        outline = edge ^ np.roll(edge, 2, axis=1) | edge ^ np.roll(edge, 2, axis=0)
        ys, xs = np.nonzero(outline)
        for x, y in zip(xs[::3], ys[::3]):
            draw.ellipse((x - 2, y - 2, x + 2, y + 2), fill=(8, 14, 30))
    return img.filter(ImageFilter.UnsharpMask(radius=2, percent=60, threshold=2))


if __name__ == "__main__":
    out = pathlib.Path(sys.argv[1]) if len(sys.argv) > 1 else pathlib.Path(__file__).with_name("swirls.jpg")
    make_style().save(out, quality=90)
    print(f"wrote {out} ({out.stat().st_size // 1024} KB)")
