"""A backbone's tv_scale (nst_helpers/core/objective.py): its content term against EfficientNet-Lite0's
on the same images, so that one total-variation weight smooths alike on every backbone.

    .venv/bin/python benchmarks/calibrate_tv_scale.py [--backbone vgg19_original] [--size 512]

For each of benchmarks/quality.py's pairs: the content term (the preset's conv4_2, mean squared
difference) of the fast preset's start (the photo in the painting's colours) against the photo,
on the backbone and on Lite0; prints each ratio and their median, the value to put in the class.
"""
import argparse
import statistics

from nst_helpers import preset  # first: torch's threads then wait passively (core/threads.py)

import torch  # noqa: E402
from nst_helpers.backbones import load_backbone, resolve_layers
from nst_helpers.core import losses
from nst_helpers.core.colour import match_colour
from nst_helpers.core.images import load_image

from quality import DEFAULT_PAIRS


def content_term(net, start, photo) -> float:
    layer = resolve_layers(net, [preset("fast").content_layer])[0]
    with torch.no_grad():
        return losses.content_loss(net(start, [layer])[layer], net(photo, [layer])[layer]).item()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default="vgg19_original")
    ap.add_argument("--size", type=int, default=512)
    args = ap.parse_args()
    net, lite0 = load_backbone(args.backbone, verbose=False), load_backbone("efficientnet_lite0", verbose=False)
    ratios = []
    for cpath, spath in DEFAULT_PAIRS:
        if not (cpath.exists() and spath.exists()):
            continue
        photo, style = load_image(cpath, max_size=args.size), load_image(spath, max_size=args.size)
        start = match_colour(photo, style)
        ratios.append(content_term(net, start, photo) / content_term(lite0, start, photo))
        print(f"{cpath.stem}+{spath.stem}: {ratios[-1]:.3g}")
    print(f"median tv_scale for {args.backbone}: {statistics.median(ratios):.2g}")


if __name__ == "__main__":
    main()
