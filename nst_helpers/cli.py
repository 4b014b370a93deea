"""Command line: python -m nst_helpers --content PATH --style PATH [--preset baseline] ..."""
import argparse
import sys

from .config import BACKBONES, PRESET_DESCRIPTIONS, PRESETS, StyleConfig, preset



def build_parser() -> argparse.ArgumentParser:
    d = StyleConfig()
    p = argparse.ArgumentParser(
        prog="python -m nst_helpers",
        description="Gatys-style neural style transfer. Writes a run folder with the result, "
                    "snapshots, loss curves, a side-by-side comparison and a progress GIF.",
        formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        epilog="Presets: " + "; ".join(f"{k}: {v}" for k, v in PRESET_DESCRIPTIONS.items()))
    p.add_argument("--content", required=True, metavar="PATH", help="content photo")
    p.add_argument("--style", required=True, metavar="PATH", help="style image")
    p.add_argument("--preset", default="baseline", choices=PRESETS, help="settings to start from")
    p.add_argument("--steps", type=int, default=None, metavar="N", help="optimiser steps (default: the preset's)")
    p.add_argument("--size", type=int, default=None, metavar="PX",
                   help=f"longest side in pixels (default: the preset's; {d.size} for the seed presets)")
    p.add_argument("--backbone", default="auto", choices=BACKBONES,
                   help="auto = VGG19 if its weights can be had, else the offline EfficientNet-Lite0")
    p.add_argument("--out", default="outputs", metavar="DIR", help="root folder for run folders")
    p.add_argument("--device", default=None, help="cpu, cuda or mps (default: the best available)")
    p.add_argument("--seed", type=int, default=d.seed, help="random seed")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def main(argv=None) -> int:
    args = build_parser().parse_args(argv)
    from . import images, runs, transfer  # heavy imports after --help
    from .backbones import load_backbone
    from .backbones.vgg import WeightsUnavailable
    try:
        overrides = {k: v for k, v in (("steps", args.steps), ("size", args.size)) if v is not None}
        cfg = preset(args.preset, backbone=args.backbone, seed=args.seed, **overrides)
        if cfg.snapshot_every > cfg.steps:
            cfg = cfg.replace(snapshot_every=max(1, cfg.steps // 5))
        content = images.load_image(args.content, max_size=cfg.size)
        style = images.load_image(args.style, max_size=cfg.size)
        net = load_backbone(cfg.backbone, pooling=cfg.pooling)
        result = transfer.run(content, style, cfg, backbone=net, device=args.device,
                              progress=not args.no_progress)
        folder = runs.save_run(result, root=args.out)
    except (ValueError, OSError, WeightsUnavailable, KeyError) as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    last = result.history[-1] if result.history else {}
    print(f"[nst] {len(result.history)} steps in {result.seconds:.1f} s on {result.device} "
          f"({result.stop_reason}); final loss {last.get('total', float('nan')):.4g}")
    print(f"[nst] results in {folder}/ (final.png, comparison.png, loss.png, progress.gif)")
    return 0
