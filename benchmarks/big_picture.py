"""A big picture in tiles: the bundled pair at 2048 px (long side) on VGG19, coarse to fine, with
tile_size 512 (core/tiles.py): the memory estimate before the run, then the measured peak memory,
the time per pyramid level and in total; the result goes to outputs/big_picture/.

    .venv/bin/python benchmarks/big_picture.py                        # 2048 px, tiles of 512: ~10-15 min on 2 cores
    .venv/bin/python benchmarks/big_picture.py --size 512 --steps 4   # a smoke run: one level, tiles of 128
    .venv/bin/python benchmarks/big_picture.py --size 512 --scale-steps 2 1 1   # three levels (256, 362, 512 px)
    .venv/bin/python benchmarks/big_picture.py --check                # tiled vs untiled gradient, 512 px, one step

The run is the fast preset's L-BFGS recipe (bf16, size-independent Gram loss, from the photo in the
painting's colours) on a 5-level pyramid (512, 724, 1024, 1448, 2048 px): the coarse levels get the
steps that place the strokes, and cost little (512 px fits in one tile and runs whole); the finest
gets only a few. Peak memory: VmHWM (/proc/self/status, else ru_maxrss), and above the RSS before
the backbone was built, which is what core/memory.py estimates (weights + run).

--check: one evaluation at --check-size px, whole and in tiles of --check-tile px, in fp32 (the
tiles' gradient is exact: the difference is float rounding) and in the recipe's bf16 (there the
backbone's rounding differs between a crop and the whole image): max abs and relative differences.
"""
import argparse
import time
from pathlib import Path

from nst_helpers.backbones import load_backbone  # first: torch's threads then wait passively

from nst_helpers import preset, run  # noqa: E402
from nst_helpers.core import images, memory, plan, recipes, tiles  # noqa: E402
from nst_helpers.core.objective import StyleObjective  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "images" / "content.jpg", ROOT / "images" / "style.jpg"
SCALE_STEPS = recipes.BIG_SCALE_STEPS   # 512, 724, 1024, 1448, 2048 px at --size 2048


def rss_mib(key: str = "VmHWM:") -> float:
    """The process's peak (VmHWM) or current (VmRSS) resident memory in MiB (core/memory.py)."""
    return memory.resident_bytes(peak=key == "VmHWM:") / 2**20


def config(size: int, scale_steps: list, tile: int, backbone: str):
    """The fast recipe at `size` on a pyramid of len(scale_steps) levels, tiles of `tile` px; no
    early stop (the steps are few, and the timing should not depend on it)."""
    return preset("fast", size=size, steps=sum(scale_steps), scales=len(scale_steps), scale_steps=scale_steps,
                  tile_size=tile, backbone=backbone, early_stop_window=0)


def per_level(history: list) -> list[tuple[int, int, float]]:
    """[(size px, steps, seconds)] per pyramid level, from the rows' elapsed times."""
    out, before = [], 0.0
    for size in dict.fromkeys(h["size"] for h in history):
        rows = [h for h in history if h["size"] == size]
        out.append((size, len(rows), rows[-1]["elapsed"] - before))
        before = rows[-1]["elapsed"]
    return out


def big_run(args) -> None:
    before = rss_mib("VmRSS:")
    net = load_backbone(args.backbone)
    cfg = config(args.size, args.scale_steps, args.tile_size, net.name)
    print(f"[big] {cfg.steps} steps on {cfg.scales} levels {cfg.scale_steps}, {net.name}, tile_size {cfg.tile_size}")
    print(f"[big] estimate: {memory.in_words(cfg, net.name, CONTENT, 'cpu')}")
    t0 = time.perf_counter()
    result = run(str(CONTENT), str(STYLE), cfg, backbone=net, progress=False)
    total = time.perf_counter() - t0
    for size, steps, seconds in per_level(result.history):
        print(f"[big] level {size:5d} px: {steps:3d} steps in {seconds:7.1f} s ({seconds / steps:.1f} s a step)")
    peak = rss_mib()
    print(f"[big] total {total:.0f} s ({result.stop_reason}); peak RSS {peak / 1024:.2f} GiB, "
          f"{(peak - before) / 1024:.2f} GiB above the RSS before the backbone (what the estimate predicts)")
    out = ROOT / "outputs" / "big_picture" / f"{args.size}px-tiles{args.tile_size}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    images.save_image(result.image, out)
    print(f"[big] saved {out.relative_to(ROOT)} ({result.image.shape[-1]}x{result.image.shape[-2]})")


def check(args) -> None:
    """Tiled vs whole: one evaluation's loss and gradient at --check-size px."""
    net = load_backbone(args.backbone)
    content = images.load_image(CONTENT, max_size=args.check_size)
    style = images.load_image(STYLE, max_size=args.check_size)
    x = images.resize_to(style, content.shape[-2:]) * 0.5 + content * 0.5   # a point with strokes to move
    for mixed in (False, True):
        cfg = preset("fast", size=args.check_size, backbone=net.name, mixed_precision=mixed, tile_size=args.check_tile)
        t = time.perf_counter()
        ref_x = x.clone().requires_grad_(True)
        total, _ = StyleObjective(net, cfg, content, style)(ref_x)
        total.backward()
        t_whole, t = time.perf_counter() - t, time.perf_counter()
        tiled_total, _, grad = tiles.TiledObjective(net, cfg, content, style).value_and_grad(x)
        t_tiled = time.perf_counter() - t
        gap, top = (grad - ref_x.grad).abs().max().item(), ref_x.grad.abs().max().item()
        print(f"[check] {'bf16' if mixed else 'fp32'} at {tuple(x.shape[-2:])}, tiles of {args.check_tile}: "
              f"loss {total.item():.6g} vs {tiled_total.item():.6g} "
              f"(rel {abs(tiled_total.item() / total.item() - 1):.1e}); "
              f"gradient max abs diff {gap:.3g}, {gap / top:.1e} of its max {top:.3g}; "
              f"whole {t_whole:.1f} s, tiled {t_tiled:.1f} s (targets included)")


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--size", type=int, default=2048, help="long side of the result, px")
    ap.add_argument("--tile-size", type=int, default=None, help="default: 512, or a quarter of a size under 2048")
    ap.add_argument("--scale-steps", type=int, nargs="+", default=SCALE_STEPS,
                    help="steps per pyramid level, coarse to fine, each level x1/sqrt(2) the next")
    ap.add_argument("--steps", type=int, default=None, help="a budget split as --scale-steps (fewer levels if tiny)")
    ap.add_argument("--backbone", default="auto", help="auto: VGG19, torchvision's weights or else the original ones")
    ap.add_argument("--check", action="store_true", help="compare tiled and whole gradients instead of the run")
    ap.add_argument("--check-size", type=int, default=512)
    ap.add_argument("--check-tile", type=int, default=256)
    args = ap.parse_args(argv)
    if args.steps is not None:
        args.scale_steps = plan.rescale(args.scale_steps, args.steps)
    if args.tile_size is None:
        args.tile_size = 512 if args.size >= 2048 else max(64, args.size // 4 // 16 * 16)
    check(args) if args.check else big_run(args)


if __name__ == "__main__":
    main()
