"""The `fast` preset's recipe, per backbone family (config.preset("fast") builds it from here)."""
import math

from . import plan

# The `fast` preset, the painting recipe, measured with benchmarks/quality.py (figures in
# benchmarks/README.md) and judged by a network the run does not optimise. One idea, tuned per
# backbone family ("auto" is VGG19, so it gets VGG19's):
#  - L-BFGS on a coarse-to-fine pyramid (longest sides x1/sqrt(2) apart up to `size`): at the
#    coarse scale the deep layers see the whole scene, so the sky and walls become large strokes,
#    not fine texture laid over the photo; the finer scales add detail;
#  - the size-independent Gram loss, so every pyramid level gets the same balance;
#  - a style weight 10x the baseline's, more of it on the deeper layers (larger motifs), and
#    total variation 1000 (less speckle and, measured on Lite0, more of the style too).
# VGG19 (the original weights, calibrated by their style_scales): bf16 autocast and channels_last
# (2.4x faster a step on this CPU, benchmarks/vgg_speed.py), style weight 3e6 (1e7 took no more
# style, judged), and the steps spread 40/25/15 over 256/362/512 px: a full-size step costs four
# coarse ones, but the judged style comes from the full-size steps (60/30/10 took 0.341 on the
# bundled pair, 50/30/15 0.244). Content weight 2: the astronaut keeps her face (structure 0.331 ->
# 0.353) for 0.005 of style. Total variation smooths as on Lite0 through the backbone's tv_scale
# (noise 1.28 -> 1.04 on stata + udnie, style a little stronger). A 512 px picture in about 45-55 s
# on 2 cores, where Lite0's 50/50/50 took VGG19 150-190 s in fp32. Starting from the photo itself
# kept the suit orange but not the face, and washed out every other pair's palette.
# EfficientNet-Lite: fp32 (bf16 does not speed it up on a CPU), 50 steps a level, starting from
# the photo in the painting's colours (the optimiser spends its steps on strokes, not colour).
# A level smaller than FAST_COARSEST is dropped (a 64 px smoke run has one scale).
FAST_COARSEST = 160                   # px: the smallest pyramid level worth optimising
FAST_STYLE_LAYERS = {"conv1_1": 0.2, "conv2_1": 0.5, "conv3_1": 1.0, "conv4_1": 1.0, "conv5_1": 1.0}
FAST_RECIPES = {   # what differs by family; scale_steps coarse to fine
    "vgg19": dict(scale_steps=[40, 25, 15], mixed_precision=True, content_weight=2.0, style_weight=3e6),
    "efficientnet_lite": dict(scale_steps=[50, 50, 50], mixed_precision=False, content_weight=1.0, style_weight=1e7),
}
FAST_TV_WEIGHT = 1000.0


def fast_family(backbone: str) -> str:
    """The FAST_RECIPES key for a backbone name ('auto' is VGG19)."""
    return "efficientnet_lite" if backbone.startswith("efficientnet_lite") else "vgg19"


def fast_steps(backbone: str = "auto") -> int:
    """The fast preset's step budget on `backbone`."""
    return sum(FAST_RECIPES[fast_family(backbone)]["scale_steps"])


def fast(size: int, steps: int, backbone: str) -> dict:
    """The `fast` preset's fields for a longest side `size`, a step budget `steps`, a backbone."""
    recipe = dict(FAST_RECIPES[fast_family(backbone)])
    scale_steps = recipe.pop("scale_steps")
    levels = 1
    while levels < len(scale_steps) and size / math.sqrt(2) ** levels >= FAST_COARSEST:
        levels += 1
    budgets = plan.rescale(scale_steps[-levels:], steps) if isinstance(steps, int) and steps >= 1 else None
    return dict(name="fast", optimizer="lbfgs", lr=1.0, steps=steps, snapshot_every=25, size=size,
                scales=len(budgets) if budgets else 1, scale_steps=budgets if budgets and len(budgets) > 1 else None,
                early_stop_window=20, early_stop_tol=1e-3, gram_norm="size_independent", init="content_in_style_colours",
                style_layers=dict(FAST_STYLE_LAYERS), tv_weight=FAST_TV_WEIGHT, **recipe)


# Big pictures (core/tiles.py): the fast recipe on a 5-level pyramid to `size` (512, 724, 1024,
# 1448, 2048 px at 2048), the coarse levels placing the strokes cheaply, the finest only refining
# (a 2048 px step in tiles costs ~40 coarse ones); no early stop, so the cost is known beforehand.
BIG_SCALE_STEPS = [30, 15, 8, 5, 4]


def big(size: int, tile_size: int) -> dict:
    """preset("fast", **big(2048, 512)): the big-picture recipe's overrides of the fast preset."""
    return dict(size=size, steps=sum(BIG_SCALE_STEPS), scales=len(BIG_SCALE_STEPS), scale_steps=list(BIG_SCALE_STEPS),
                tile_size=tile_size, early_stop_window=0)
