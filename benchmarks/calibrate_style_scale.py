"""Calibrate a backbone's style_scale: the factor on the style loss that makes the seed's
VGG19-tuned weights (content 1, style 1e6) give a comparable balance on another backbone.

Rule: the baseline preset stands for "moderate style transfer": at convergence its weighted
style and content terms are balanced, yet the style is as strong as balance allows. For each
candidate scale we run the baseline weights to convergence (L-BFGS) and print the final ratio
    (style_weight * scale * style_loss) / (content_weight * content_loss);
the calibrated scale is the LARGEST power of ten whose ratio stays within [0.5, 2]. (Weak
scales also end balanced, because both terms then shrink to almost nothing; past the chosen
one the style term dominates and the photo starts to dissolve.)

    .venv/bin/python benchmarks/calibrate_style_scale.py [--size 192] [--steps 150]
"""
import argparse
import time

import torch

from nst_helpers import preset, run
from nst_helpers.backbones import load_backbone


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--size", type=int, default=192)
    ap.add_argument("--steps", type=int, default=150)
    ap.add_argument("--scales", default="1e-5,1e-4,1e-3,1e-2,1e-1")
    args = ap.parse_args()
    torch.set_num_threads(2)
    net = load_backbone(args.backbone)
    shipped = net.style_scale
    cfg = preset("baseline", optimizer="lbfgs", lr=1.0, steps=args.steps, size=args.size,
                 snapshot_every=args.steps, backbone=args.backbone)
    print(f"backbone {net.name}, baseline weights, L-BFGS {args.steps} steps at {args.size} px; shipped scale {shipped:g}")
    print(f"{'scale':>8} {'content term':>13} {'style term':>11} {'style/content':>14} {'seconds':>8}")
    best = None
    for scale in (float(s) for s in args.scales.split(",")):
        net.style_scale = scale
        t = time.perf_counter()
        r = run("images/content.jpg", "images/style.jpg", cfg, backbone=net, progress=False)
        last = r.history[-1]
        # history["style"] already includes the backbone's style_scale
        c, s = cfg.content_weight * last["content"], cfg.style_weight * last["style"]
        ratio = s / max(c, 1e-12)
        print(f"{scale:8.0e} {c:13.4g} {s:11.4g} {ratio:14.3f} {time.perf_counter() - t:8.1f}")
        if 0.5 <= ratio <= 2 and (best is None or scale > best[0]):
            best = (scale, ratio)
    net.style_scale = shipped
    if best is None:
        print(f"no scale kept the terms balanced; shipped value: {shipped:g}")
    else:
        print(f"calibrated style_scale: {best[0]:g} (ratio {best[1]:.2f}); shipped value: {shipped:g}")


if __name__ == "__main__":
    main()
