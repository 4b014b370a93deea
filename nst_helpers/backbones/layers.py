"""The backbones' names and layer names, without torch: a config is checked against these, and
`import nst_helpers.core.config` must stay cheap (the command line answers --help before torch).

    BACKBONES                 the names a config may give (auto picks one, see registry)
    VGG19_LAYERS              conv1_1, relu1_1, ..., pool5: torchvision's vgg19().features, in order
    lite_layer_names(v)       stem, block0 ... blockN, head of EfficientNet-Lite{v}
    lite_style_layer_map(v)   the presets' VGG19 names -> Lite{v}'s layers (see efficientnet.py)
    resolve_layers(net, names)  preset names -> a backbone's own names
"""
import math

BACKBONES = ("auto", "vgg19", "vgg19_original", "efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2")

# torchvision's VGG19 layout: channels per conv, "M" for a 2x2 max pool.
VGG19_CFG = [64, 64, "M", 128, 128, "M", 256, 256, 256, 256, "M",
             512, 512, 512, 512, "M", 512, 512, 512, 512, "M"]


def _vgg19_layers() -> list[str]:
    """Names of torchvision's vgg19().features modules, in order: conv1_1, relu1_1, ..., pool5."""
    names, block, conv = [], 1, 0
    for v in VGG19_CFG:
        if v == "M":
            names.append(f"pool{block}")
            block, conv = block + 1, 0
        else:
            conv += 1
            names += [f"conv{block}_{conv}", f"relu{block}_{conv}"]
    return names


VGG19_LAYERS = _vgg19_layers()

# (repeats, kernel, first stride, expand ratio, out channels) per stage: EfficientNet-B0's
# table, which Lite0 keeps (Lite only drops squeeze-excite and swaps swish for ReLU6).
B0_STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
             (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]

# variant -> (width multiplier, depth multiplier, training resolution in px), as in Google's
# efficientnet_lite_builder.py. Lite3/4 exist too, but without packaged PyTorch weights.
LITE_VARIANTS = {0: (1.0, 1.0, 224), 1: (1.0, 1.1, 240), 2: (1.1, 1.2, 260)}


def round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's round_filters: scale, round to a multiple of 8, never lose over 10 %."""
    scaled = channels * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * scaled else new


def lite_stages(variant: int = 0) -> list[tuple[int, int, int, int, int]]:
    """The variant's (repeats, kernel, first stride, expand, out channels) per stage.

    Width scales every stage's channels; depth scales repeats (rounded up), except the
    first and last stage's: Lite's fix_head_stem keeps those, as it keeps stem and head.
    """
    width, depth, _ = LITE_VARIANTS[variant]
    last = len(B0_STAGES) - 1
    return [(r if i in (0, last) else math.ceil(r * depth), k, s, e, round_filters(c, width))
            for i, (r, k, s, e, c) in enumerate(B0_STAGES)]


def lite_layer_names(variant: int = 0) -> list[str]:
    """stem, block0 ... blockN, head: the variant's named layers, in forward order."""
    return ["stem"] + [f"block{i}" for i in range(sum(s[0] for s in lite_stages(variant)))] + ["head"]


def lite_style_layer_map(variant: int = 0) -> dict[str, str]:
    """VGG19 layer names of the Gatys presets -> this variant's layers, matched by stride.

    VGG's conv{k}_1 sit at strides 1, 2, 4, 8, 16; Lite has nothing at stride 1 (the stem already
    halves), so each style layer is one octave coarser than VGG's but keeps the same ordering and
    spacing: conv1_1 -> stem, conv{2..5}_1 -> the last block of the /4, /8 and the two /16 stages
    (a stage's last block has the largest receptive field at its stride). /32 is avoided: 4x4 maps
    at 128 px give too few Gram samples. Content conv4_2 -> the block after conv4_1's, at the same
    /16 scale: object layout rather than local texture, as VGG's conv4_2. For Lite0: stem, block2,
    block4, block7, block10; conv4_2 -> block8.
    """
    ends = [sum(s[0] for s in lite_stages(variant)[: i + 1]) - 1 for i in range(len(B0_STAGES))]
    return {"conv1_1": "stem", "conv2_1": f"block{ends[1]}", "conv3_1": f"block{ends[2]}",
            "conv4_1": f"block{ends[3]}", "conv5_1": f"block{ends[4]}",
            "conv4_2": f"block{ends[3] + 1}"}


def known_layer_names() -> set[str]:
    """Every layer name any backbone understands (configs are checked against this)."""
    return set(VGG19_LAYERS).union(*(lite_layer_names(v) for v in LITE_VARIANTS))


def resolve_layers(backbone, layers) -> list[str]:
    """Translate preset layer names (VGG19's or the backbone's own) to the backbone's names,
    through its `layer_map`; KeyError naming the layer and the choices."""
    out = []
    for name in layers:
        if name not in backbone.layer_map:
            raise KeyError(f"layer {name!r} means nothing to {backbone.name}; "
                           f"use one of {sorted(backbone.layer_map)}")
        out.append(backbone.layer_map[name])
    return out
