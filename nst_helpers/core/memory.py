"""Will a run fit in memory? transfer.run asks before it allocates anything, and so does the
command line before it loads an image; NotEnoughMemory says how much and what size (or tile size) fits.

    check_memory(cfg, device, "vgg19", content)     # NotEnoughMemory before anything is allocated
    in_words(cfg, "vgg19", content)  # '2048 px in tiles of 512 px (+80 halo): about 3.9 GB; untiled about 12 GB'
"""
import functools

from . import optim, plan, tiles
from ..backbones.layers import VGG19_LAYERS

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
# A tiled run (tiles.py) runs the backbone on one crop at a time but keeps its image-sized vectors
# at full size. The line's slope holds them: without them, the rest (activations, their gradients)
# follows the crop. Counted, not measured (benchmarks/big_picture.py prints the estimate beside the
# measured peak): z, its gradient, the gradient being summed, x, the level's photo and painting,
# the loop's images (new, best, the level's start), the L-BFGS memo's z and gradient: 10; the content
# layer's target (512 channels at 1/8 of the side: 32 bytes a pixel): 3; Adam's moments: 2; L-BFGS:
# 2 per pair of its history, and 4 its line search keeps.
FULL_VECTORS = 13
OPTIMISER_VECTORS = {"adam": 2, "lbfgs": 2 * MEASURED_HISTORY + 4}


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


def estimate_bytes(cfg, backbone: str, pixels: int, mixed: bool = False, shape: tuple | None = None) -> float:
    """Peak bytes a run of `cfg` needs with its largest level of `pixels` (h * w) pixels: the
    backbone's weights, the measured line (an L-BFGS history other than the measured one adds
    or saves two image-sized vectors a pair), and the snapshots kept (each at most full size).
    shape: that level's (h, w); where cfg.tile_size cuts it in tiles, a tiled run's estimate: the
    line's slope without FULL_VECTORS at the largest crop, those vectors at the full size."""
    weights, *lines = MEMORY_MIB.get(backbone, MEMORY_MIB[FALLBACK])
    lbfgs = cfg.optimizer == "lbfgs"
    a, b = lines[2 * lbfgs + bool(mixed)]
    vectors = cfg.steps // cfg.snapshot_every + (2 * (_lbfgs_history() - MEASURED_HISTORY) if lbfgs else 0)
    slope = b * 2**20 / 1e6
    crop = _crop(cfg, backbone, shape) if shape is not None else pixels
    if crop < pixels:
        full = FULL_VECTORS + OPTIMISER_VECTORS[cfg.optimizer]
        follows_crop = max(slope - full * VECTOR_BYTES, 0)
        return (weights + a) * 2**20 + crop * follows_crop + pixels * (full + vectors) * VECTOR_BYTES
    return (weights + a) * 2**20 + pixels * (slope + vectors * VECTOR_BYTES)


def _crop(cfg, backbone: str, shape) -> int:
    """Pixels the backbone sees at once at a level of (h, w) `shape`: all of them untiled, in one
    tile, or where tiles would be refused (tiles.check: VGG19's layers only)."""
    if not (cfg.tile_size and backbone in tiles.BACKBONES
            and {cfg.content_layer, *cfg.style_layers} <= set(VGG19_LAYERS)):
        return shape[0] * shape[1]
    return tiles.largest_crop(shape, cfg.tile_size, [cfg.content_layer, *cfg.style_layers])


def resident_bytes(peak: bool = True) -> float:
    """This process's peak (VmHWM) or current (VmRSS) resident memory in bytes; ru_maxrss (the
    peak) where /proc is not there."""
    key = "VmHWM:" if peak else "VmRSS:"
    try:
        with open("/proc/self/status") as f:
            return next(int(line.split()[1]) for line in f if line.startswith(key)) * 1024.0
    except (OSError, StopIteration):
        import resource
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024.0


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


def plan_bytes(cfg, backbone: str, ratio: float = 1.0, mixed: bool = False) -> float:
    """Peak bytes of a run of `cfg` on an image of short/long side `ratio`: its hungriest level's
    estimate (a coarse level that fits in one tile runs whole beside a tiled finest one)."""
    levels = plan.plan(cfg, (max(1, round(cfg.size * ratio)), cfg.size))
    return max(estimate_bytes(cfg, backbone, lv.pixels, mixed, lv.shape) for lv in levels)


def largest_size(cfg, backbone: str, free: float, ratio: float = 1.0, mixed: bool = False) -> int:
    """The longest side (a multiple of 64 from 64 up, else 32 or 0) whose run fits in `free` bytes."""
    need = lambda size: plan_bytes(cfg.replace(size=size), backbone, ratio, mixed)  # noqa: E731
    if need(32) > HEADROOM * free:
        return 0
    lo, hi = 32, 64
    while need(hi) <= HEADROOM * free:
        lo, hi = hi, hi * 2
    while hi - lo > 1:   # the cost grows with size: bisect
        mid = (lo + hi) // 2
        lo, hi = (mid, hi) if need(mid) <= HEADROOM * free else (lo, mid)
    return lo // 64 * 64 or 32


def largest_tile(cfg, backbone: str, free: float, ratio: float = 1.0, mixed: bool = False) -> int:
    """The largest tile size (a multiple of 64, below the current one and the size) whose run fits
    in `free` bytes; 0 if none does, or the backbone cannot run in tiles (tiles.check: VGG19 only)."""
    if backbone not in tiles.BACKBONES:
        return 0
    top = min(cfg.tile_size or cfg.size, cfg.size) - 1
    return next((t for t in range(top // 64 * 64, 63, -64)
                 if plan_bytes(cfg.replace(tile_size=t), backbone, ratio, mixed) <= HEADROOM * free), 0)


def _gb(n: float) -> str:
    return f"{n / 1e9:.0f} GB" if n >= 9.5e9 else f"{n / 1e9:.1f} GB" if n >= 1e9 else f"{n / 1e6:.0f} MB"


def _resolve(cfg, device, backbone, content) -> tuple:
    """(torch.device, backbone name, the content's short/long side, whether autocast acts)."""
    import torch
    from ..backbones import choose_backbone
    from .devices import pick_device
    dev = pick_device(device) if not isinstance(device, torch.device) else device
    name = backbone or cfg.backbone
    name = choose_backbone(name)[0] if name == "auto" else name
    return dev, name, aspect(content), _mixed_active(cfg, dev)   # content None: square


def in_words(cfg, backbone: str | None = None, content=None, device=None) -> str:
    """The run's memory estimate as a line to print before it: '2048 px in tiles of 512 px (+80 halo):
    about 3.9 GB; untiled about 12 GB', or '512 px: about 1.4 GB' for a run in one piece."""
    _, name, ratio, mixed = _resolve(cfg, device, backbone, content)
    need, whole = plan_bytes(cfg, name, ratio, mixed), plan_bytes(cfg.replace(tile_size=0), name, ratio, mixed)
    if need == whole:
        return f"{cfg.size} px: about {_gb(need)}"
    halo = tiles.reach([cfg.content_layer, *cfg.style_layers])[1]
    return f"{cfg.size} px in tiles of {cfg.tile_size} px (+{halo} halo): about {_gb(need)}; untiled about {_gb(whole)}"


def check_memory(cfg, device=None, backbone: str | None = None, content=None, flag: str = "--size ") -> None:
    """Raise NotEnoughMemory if a run of `cfg` would not fit in the free memory of `device`
    (None: the one run() would pick), with the estimate, the largest size and tile size that fit.
    backbone: a name ("auto" is resolved as load_backbone would, without downloading);
    content: the content image, for its aspect (None: square). flag: how the fix names the
    size (the CLI's --size, "size=" for Python; the tile size's follows it)."""
    dev, name, ratio, mixed = _resolve(cfg, device, backbone, content)
    free, where = free_bytes(dev)
    if free is None:
        return
    need = plan_bytes(cfg, name, ratio, mixed)
    if need <= HEADROOM * free:
        return
    fits, tile = largest_size(cfg, name, free, ratio, mixed), largest_tile(cfg, name, free, ratio, mixed)
    tile_flag = "--tile-size " if flag.startswith("--") else "tile_size="
    fixes = [f"{flag}{fits} or less"] * bool(fits) + [f"{tile_flag}{tile}"] * bool(tile)
    fix = "use " + ", or ".join(fixes) if fixes else "close other programs or use a machine with more memory"
    raise NotEnoughMemory(f"a {cfg.size} px run on {name} needs about {_gb(need)} of memory, "
                          f"{where} has {_gb(free)} free; {fix}")
