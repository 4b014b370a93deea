"""Will a run fit in memory? transfer.run asks before it allocates anything, and so does the
command line before it loads an image; NotEnoughMemory says how much and what size fits.

    check_memory(cfg, device, "vgg19", content)     # NotEnoughMemory before anything is allocated
"""
import functools

from . import optim, plan

# Peak memory of a run above the memory before it, MiB = a + b * megapixels of its largest
# pyramid level, measured with benchmarks/memory.py: a fresh process per run, peak RSS from
# /proc/self/status VmHWM after clear_refs, square images, 2 CPU threads, torch 2.14.1, bf16 on an
# AVX-512 CPU; VGG19 with random weights (the same memory); weights: the RSS building the net took.
# Adam: 3 steps of the baseline preset (layers to conv5_1) at 256/512/1024 px; within 1 % at
# 1024 px, Lite0's line predicts its 1536 px runs within 1 %, smaller runs get up to 12 % more.
# L-BFGS: 25 steps of the fast preset on one scale (history full) at 128/256/384 px; Lite0's
# lines predict its 1024 and 1536 px runs within 5 % (-3 %..+4 %). b holds the optimiser's state:
# Adam's 2 image-sized vectors, L-BFGS's 2 x 20 (458 MiB/Mpx) and its line search's copies.
#              weights  Adam fp32 (a, b)  mixed (a, b)  L-BFGS fp32 (a, b)  mixed (a, b)
MEMORY_MIB = {
    "efficientnet_lite0": (53, (244, 1148), (236, 723), (228, 1886), (221, 1569)),
    "efficientnet_lite1": (62, (225, 1433), (213, 880), (218, 2285), (220, 1725)),
    "efficientnet_lite2": (69, (229, 1487), (213, 948), (220, 2256), (218, 1650)),
    "vgg19": (78, (368, 2604), (364, 1932), (307, 4069), (295, 3525)),
}
MEASURED_HISTORY = 20   # optim.make_optimizer's L-BFGS history when the table was measured
FALLBACK = "vgg19"      # a backbone of the caller's own: assume the heaviest one measured
VECTOR_BYTES = 12       # one image-sized float32 vector: 3 channels x 4 bytes per pixel
HEADROOM = 0.9          # use at most 90 % of what is free: the estimate is an estimate


class NotEnoughMemory(MemoryError, ValueError):
    """The run would not fit in memory; the message says how much it needs and what fits."""


@functools.cache
def _lbfgs_history() -> int:
    import torch
    return optim.make_optimizer("lbfgs", [torch.zeros(1)], 1.0).defaults["history_size"]


def _mixed_active(cfg, dev) -> bool:
    """mixed_precision that takes effect: autocast_for is a no-op on a CPU without bf16."""
    import contextlib
    from .objective import autocast_for
    return cfg.mixed_precision and not isinstance(autocast_for(dev, True), contextlib.nullcontext)


def estimate_bytes(cfg, backbone: str, pixels: int, mixed: bool = False) -> float:
    """Peak bytes a run of `cfg` needs with its largest level of `pixels` (h * w) pixels: the
    backbone's weights, the measured line (an L-BFGS history other than the measured one adds
    or saves two image-sized vectors a pair), and the snapshots kept (each at most full size)."""
    weights, *lines = MEMORY_MIB.get(backbone, MEMORY_MIB[FALLBACK])
    lbfgs = cfg.optimizer == "lbfgs"
    a, b = lines[2 * lbfgs + bool(mixed)]
    vectors = cfg.steps // cfg.snapshot_every + (2 * (_lbfgs_history() - MEASURED_HISTORY) if lbfgs else 0)
    return (weights + a) * 2**20 + pixels * (b * 2**20 / 1e6 + vectors * VECTOR_BYTES)


def free_bytes(dev) -> tuple[float | None, str]:
    """(bytes free, where) on torch.device `dev`: a GPU's free memory, else the machine's
    available RAM (psutil, else /proc/meminfo MemAvailable); None where neither can be read."""
    import torch
    if dev.type == "cuda":
        return float(torch.cuda.mem_get_info(dev)[0]), str(dev)
    try:
        import psutil
        return float(psutil.virtual_memory().available), "this machine"
    except ImportError:
        pass
    try:
        with open("/proc/meminfo") as f:
            kib = next(int(line.split()[1]) for line in f if line.startswith("MemAvailable:"))
        return kib * 1024.0, "this machine"
    except (OSError, StopIteration, ValueError):
        return None, "this machine"


def aspect(content) -> float:
    """Short side / long side of a content image (path, PIL image, array or tensor) without
    decoding it; 1.0 (square: the most pixels a size allows) when it cannot be told. Only a
    regular file is opened: a pipe or device could block the open (load_image then refuses it)."""
    import os
    try:
        if hasattr(content, "shape"):
            h, w = content.shape[-2:] if hasattr(content, "dim") else content.shape[:2]
        elif hasattr(content, "size") and not callable(content.size):
            w, h = content.size
        elif not (isinstance(content, (str, os.PathLike)) and os.path.isfile(content)):
            return 1.0
        else:
            from PIL import Image
            with Image.open(content) as img:   # reads the header only
                w, h = img.size
        return min(h, w) / max(h, w)
    except Exception:  # noqa: BLE001: a bad image gets its own clear error when it is loaded
        return 1.0


def largest_size(cfg, backbone: str, free: float, ratio: float = 1.0, mixed: bool = False) -> int:
    """The longest side (a multiple of 64 from 64 up, else 32 or 0) whose run fits in `free` bytes."""
    need = lambda size: estimate_bytes(cfg.replace(size=size), backbone, _pixels(size, ratio), mixed)  # noqa: E731
    if need(32) > HEADROOM * free:
        return 0
    lo, hi = 32, 64
    while need(hi) <= HEADROOM * free:
        lo, hi = hi, hi * 2
    while hi - lo > 1:   # the cost grows with size: bisect
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if need(mid) <= HEADROOM * free else (lo, mid)
    return lo // 64 * 64 or 32


def _pixels(size: int, ratio: float) -> int:
    return size * max(1, round(size * ratio))


def _gb(n: float) -> str:
    return f"{n / 1e9:.0f} GB" if n >= 9.5e9 else f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def check_memory(cfg, device=None, backbone: str | None = None, content=None, flag: str = "--size ") -> None:
    """Raise NotEnoughMemory if a run of `cfg` would not fit in the free memory of `device`
    (None: the one run() would pick), with the estimate and the largest size that fits.
    backbone: a name ("auto" is resolved as load_backbone would, without downloading);
    content: the content image, for its aspect (None: square). flag: how the fix names the
    size (the CLI's --size, "size=" for Python)."""
    import torch
    from ..backbones import choose_backbone
    from .devices import pick_device
    dev = pick_device(device) if not isinstance(device, torch.device) else device
    name = backbone or cfg.backbone
    name = choose_backbone(name)[0] if name == "auto" else name
    free, where = free_bytes(dev)
    if free is None:
        return
    ratio, mixed = aspect(content), _mixed_active(cfg, dev)   # content None: square
    largest = max(level.pixels for level in plan.plan(cfg, (max(1, round(cfg.size * ratio)), cfg.size)))
    need = estimate_bytes(cfg, name, largest, mixed)
    if need <= HEADROOM * free:
        return
    fits = largest_size(cfg, name, free, ratio, mixed)
    fix = (f"use {flag}{fits} or less" if fits else
           "close other programs or use a machine with more memory")
    raise NotEnoughMemory(f"a {cfg.size} px run on {name} needs about {_gb(need)} of memory, "
                          f"{where} has {_gb(free)} free; {fix}")
