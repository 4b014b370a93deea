"""Calibrate a backbone's style_scale: the factor on the style loss that makes the seed's
VGG19-tuned weights (content 1, style 1e6) give a comparable balance on another backbone.

Rule: the baseline preset stands for "moderate style transfer": the result takes on the
style's texture statistics while the photo stays clearly recognisable. For each candidate
scale (powers of ten) we run the baseline weights to convergence (L-BFGS) and measure
    style taken  = 1 - gram_distance(result, style) / gram_distance(photo, style)
    photo kept   = content_ssim(result, photo)          (luminance SSIM, 1 = the photo)
and keep the SMALLEST scale whose style taken reaches 80 % of the strongest scale's: the knee
of the curve, where the baseline has most of the style the backbone can give, and stronger
scales only trade more of the photo for little extra style. (VGG19 is the reference at scale 1;
its weights are not available offline, so this is measured on the backbone being calibrated.)

    .venv/bin/python benchmarks/calibrate_style_scale.py [--size 128] [--steps 100]
    .venv/bin/python benchmarks/calibrate_style_scale.py --gram-norm seed --size 512

Under the seed's loss a layer's term grows with C*H*W, so its scale depends on the image
size: it is calibrated at the seed's size, 512 px.
"""
import argparse
import time


from nst_helpers import preset, run  # before torch: its threads then wait passively (core/threads.py)

import torch  # noqa: E402
from nst_helpers.runs import metrics
from nst_helpers.backbones import load_backbone
from nst_helpers.core.images import load_image
from nst_helpers.core.objective import style_scale


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--backbone", default="efficientnet_lite0")
    ap.add_argument("--size", type=int, default=128)
    ap.add_argument("--steps", type=int, default=100)
    ap.add_argument("--scales", default=None, help="candidates (default: 1e-5..1e-1; seed norm: 1e-11..1e-7)")
    ap.add_argument("--gram-norm", default="size_independent", choices=("seed", "size_independent"),
                    help="the loss being calibrated (seed: the seed's unnormalised Gram loss, at --size 512)")
    args = ap.parse_args()
    torch.set_num_threads(2)
    net = load_backbone(args.backbone)
    norm = args.gram_norm
    scales = args.scales or ("1e-11,1e-10,1e-9,1e-8,1e-7" if norm == "seed" else "1e-5,1e-4,1e-3,1e-2,1e-1")
    shipped = style_scale(net, norm)
    own = dict(getattr(net, "style_scales", {}))
    photo = load_image("images/content.jpg", max_size=args.size)
    style = load_image("images/style.jpg", max_size=args.size)
    untouched = metrics.gram_distance(photo, style, net)
    cfg = preset("baseline", optimizer="lbfgs", lr=1.0, steps=args.steps, size=args.size,
                 snapshot_every=args.steps, backbone=args.backbone, gram_norm=norm)
    print(f"backbone {net.name}, gram_norm {norm}, baseline weights, L-BFGS {args.steps} steps at {args.size} px; "
          f"shipped scale {shipped:g}; load {open('/proc/loadavg').read().split()[0]}")
    print(f"{'scale':>7} {'style taken':>12} {'photo kept':>11} {'style/content':>14} {'seconds':>8}")
    rows = []
    for scale in (float(s) for s in scales.split(",")):
        net.style_scales = {**own, norm: scale}
        t = time.perf_counter()
        r = run(photo, style, cfg, backbone=net, progress=False)
        last = r.history[-1]  # history["style"] already includes the style_scale
        ratio = cfg.style_weight * last["style"] / max(cfg.content_weight * last["content"], 1e-12)
        taken = 1 - metrics.gram_distance(r.image, style, net) / untouched
        kept = metrics.content_ssim(r.image, photo)
        print(f"{scale:7.0e} {taken:12.3f} {kept:11.3f} {ratio:14.3f} {time.perf_counter() - t:8.1f}")
        rows.append((scale, taken))
    net.style_scales = own
    strongest = max(t for _, t in rows)
    best = min(s for s, t in rows if t >= 0.8 * strongest)
    print(f"calibrated style_scale: {best:g} (style taken >= 80% of {strongest:.3f}); shipped value: {shipped:g}")


if __name__ == "__main__":
    main()
