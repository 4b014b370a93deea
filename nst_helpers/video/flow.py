"""Optical flow between input frames, backward warping, and where the flow can be trusted.

Flows are (1, 2, H, W) float32 tensors in pixels, channel 0 the x (column) displacement, channel 1
the y (row) one. `flow(a, b)` maps frame a onto frame b: a(p) ~ b(p + w(p)). To bring the previous
stylised frame to the current one, warp it by the *backward* flow w = flow(current, previous):
each pixel of the current frame fetches the colour where it was one frame before.

The flow is computed on the input frames, never on the stylised ones (their strokes would be
tracked, not the scene), with OpenCV's DIS (dense inverse search, fast and good on small motions;
Kroeger et al. 2016), in one thread, so that a resumed video computes the same flow to the bit.

Reliability (Ruder et al. 2016, eqs. 2-3): a pixel is disoccluded (uncovered: no earlier pixel
to follow) where the backward flow and the forward flow, warped back, do not cancel,

    |w + w'|^2 > 0.01 (|w|^2 + |w'|^2) + 0.5,

on a motion boundary, where the flow's gradient is large against the flow,

    |grad u|^2 + |grad v|^2 > 0.01 |w|^2 + 0.002,

or where it points outside the frame. The mask is 1 where the flow is reliable, 0 elsewhere.
"""
import numpy as np
import torch
import torch.nn.functional as F

CONSISTENCY = (0.01, 0.5)    # Ruder et al.'s constants: relative and absolute (px^2) tolerance
BOUNDARY = (0.01, 0.002)     # ... and the motion boundary's


def _grey(frame: torch.Tensor) -> np.ndarray:
    """(1, 3, H, W) in [0, 1] -> (H, W) uint8 luminance, what OpenCV's flow takes."""
    grey = (0.299 * frame[0, 0] + 0.587 * frame[0, 1] + 0.114 * frame[0, 2]).clamp(0, 1)
    return (grey * 255).round().to(torch.uint8).cpu().numpy()


def flow(a: torch.Tensor, b: torch.Tensor, method: str = "dis") -> torch.Tensor:
    """The flow (1, 2, H, W) from frame a to frame b (both (1, 3, H, W) in [0, 1]): a(p) ~ b(p + w(p)).
    method: "dis" (OpenCV's DIS, medium preset) or "farneback"."""
    import cv2
    cv2.setNumThreads(1)   # one thread: the same flow on every run (a resumed video's too)
    ga, gb = _grey(a), _grey(b)
    if method == "dis":
        dis = cv2.DISOpticalFlow_create(cv2.DISOPTICAL_FLOW_PRESET_MEDIUM)
        uv = dis.calc(ga, gb, None)
    elif method == "farneback":
        uv = cv2.calcOpticalFlowFarneback(ga, gb, None, pyr_scale=0.5, levels=3, winsize=15, iterations=3,
                                          poly_n=5, poly_sigma=1.2, flags=0)
    else:
        raise ValueError(f"flow method must be 'dis' or 'farneback', got {method!r}")
    return torch.from_numpy(np.ascontiguousarray(uv, dtype=np.float32)).permute(2, 0, 1).unsqueeze(0)


def _grid(w: torch.Tensor) -> torch.Tensor:
    """(1, 2, H, W) flow -> grid_sample's (1, H, W, 2) grid of the points p + w(p), in [-1, 1]."""
    _, _, h, wd = w.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=w.dtype, device=w.device),
                            torch.arange(wd, dtype=w.dtype, device=w.device), indexing="ij")
    x = (xx + w[0, 0]) * (2 / max(wd - 1, 1)) - 1
    y = (yy + w[0, 1]) * (2 / max(h - 1, 1)) - 1
    return torch.stack([x, y], dim=-1).unsqueeze(0)


def warp(image: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    """Backward warping: out(p) = image(p + w(p)), bilinear; image (1, C, H, W), w (1, 2, H, W).
    A point outside the frame takes the nearest border colour (and is marked unreliable by `outside`)."""
    return F.grid_sample(image, _grid(w.to(image.dtype)), mode="bilinear", padding_mode="border",
                         align_corners=True)


def outside(w: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W): 1 where p + w(p) falls outside the frame (by more than half a pixel)."""
    _, _, h, wd = w.shape
    yy, xx = torch.meshgrid(torch.arange(h, dtype=w.dtype), torch.arange(wd, dtype=w.dtype), indexing="ij")
    x, y = xx + w[0, 0], yy + w[0, 1]
    return ((x < -0.5) | (x > wd - 0.5) | (y < -0.5) | (y > h - 0.5)).to(w.dtype)[None, None]


def disoccluded(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W): 1 where the backward flow (current -> previous) and the forward one (previous ->
    current), brought to the current frame, fail Ruder et al.'s forward-backward consistency."""
    there = warp(forward, backward)   # w'(p + w(p)): the forward flow where each pixel came from
    gap = ((backward + there) ** 2).sum(1, keepdim=True)
    scale = (backward ** 2).sum(1, keepdim=True) + (there ** 2).sum(1, keepdim=True)
    return (gap > CONSISTENCY[0] * scale + CONSISTENCY[1]).to(backward.dtype)


def motion_boundaries(w: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W): 1 where the flow's gradient is large against the flow (Ruder et al.'s eq. 3);
    forward differences, the last row and column repeating their neighbour's."""
    dx = F.pad(w[..., :, 1:] - w[..., :, :-1], (0, 1, 0, 0), mode="replicate")
    dy = F.pad(w[..., 1:, :] - w[..., :-1, :], (0, 0, 0, 1), mode="replicate")
    grad = (dx ** 2 + dy ** 2).sum(1, keepdim=True)
    return (grad > BOUNDARY[0] * (w ** 2).sum(1, keepdim=True) + BOUNDARY[1]).to(w.dtype)


def reliable(backward: torch.Tensor, forward: torch.Tensor) -> torch.Tensor:
    """(1, 1, H, W) mask, 1 where the backward flow can be followed: consistent with the forward
    flow, off motion boundaries and inside the frame; 0 where the pixel is new in the current frame."""
    bad = (disoccluded(backward, forward) + motion_boundaries(backward) + outside(backward)).clamp(max=1)
    return 1 - bad


def frame_flow(current: torch.Tensor, previous: torch.Tensor, method: str = "dis") -> tuple:
    """(backward flow (1, 2, H, W), reliability mask (1, 1, H, W)) from the previous input frame to
    the current one (both (1, 3, H, W)): what warping the previous stylised frame needs."""
    backward, forward = flow(current, previous, method), flow(previous, current, method)
    return backward, reliable(backward, forward)


def rule() -> str:
    """The reliability rule in words, with its constants (notebook 07 prints it)."""
    (a, b), (c, d) = CONSISTENCY, BOUNDARY
    return (f"disoccluded where |w + w'|^2 > {a:g} (|w|^2 + |w'|^2) + {b:g} (w: backward flow, w': forward flow "
            f"where each pixel came from)\nmotion boundary where |grad u|^2 + |grad v|^2 > {c:g} |w|^2 + {d:g}\n"
            "and unreliable where p + w(p) leaves the frame; everywhere else the temporal loss holds")
