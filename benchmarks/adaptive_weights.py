"""Adaptive style weights and the seed's four observations: the four presets with and without
`adaptive_weights="initial"` (each style layer's weight as its share of the style term at the photo),
on one backbone, each optimised with the fast recipe (notebook 04's way of seeing a seed preset in
seconds), measured with nst_helpers.metrics, and the observations checked as notebook 04 does.

    .venv/bin/python benchmarks/adaptive_weights.py [--backbone vgg19_original] [--size 256]

Prints each preset's metrics, the layer shares of the style term at the photo (the layers' own
scales, which adaptive weights take out), and the verdicts with and without.
"""
import argparse
import time

from nst_helpers import preset, run  # first: torch's threads then wait passively (core/threads.py)

from nst_helpers.backbones import load_backbone  # noqa: E402
from nst_helpers.core.config import with_fast_recipe  # noqa: E402
from nst_helpers.core.images import load_image  # noqa: E402
from nst_helpers.core.objective import StyleObjective  # noqa: E402
from nst_helpers.notebook.compare import EXPERIMENTS, metrics_markdown, observations  # noqa: E402
from nst_helpers.runs import metrics  # noqa: E402


def shares(net, cfg, content, style) -> str:
    """Each style layer's share of the style term at the photo, as 'conv1_1 0.01, ...'."""
    objective = StyleObjective(net, cfg, content, style)
    terms = objective.layer_terms(content)
    weighted = {k: objective.style_weights[k] * v for k, v in terms.items()}
    total = sum(weighted.values()) or 1.0
    return ", ".join(f"{k} {v / total:.2f}" for k, v in weighted.items())


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--backbone", default="vgg19_original")
    ap.add_argument("--size", type=int, default=256)
    ap.add_argument("--content", default="images/content.jpg")
    ap.add_argument("--style", default="images/style.jpg")
    args = ap.parse_args()
    net = load_backbone(args.backbone, verbose=False)
    content, style = load_image(args.content, max_size=args.size), load_image(args.style, max_size=args.size)
    for mode in ("off", "initial"):
        rows, t0 = {}, time.perf_counter()
        for name in EXPERIMENTS:
            cfg = with_fast_recipe(preset(name), size=args.size, backbone=args.backbone).replace(adaptive_weights=mode)
            print(f"{mode:7} {name:8} style-term shares at the photo: {shares(net, cfg, content, style)}", flush=True)
            result = run(content, style, cfg, backbone=net, progress=False)
            rows[name] = metrics.measure(result.image, content, style, net, result.history)
        print(f"\nadaptive_weights={mode} ({time.perf_counter() - t0:.0f} s, {args.backbone}, {args.size} px)")
        print(metrics_markdown(rows))
        for o in observations(rows):
            print(f"  {o['preset']:8} {o['claim']}: {o['verdict']} ({o['evidence']})")
        print(flush=True)


if __name__ == "__main__":
    main()
