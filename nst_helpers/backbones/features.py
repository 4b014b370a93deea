"""The offline backbones: EfficientNet-Lite0/1/2 behind the backbone interface (see __init__).

Their weights ship in pip packages, so they work without a network. Each wrapper maps the
presets' VGG19 layer names to its own blocks (layers.lite_style_layer_map) and carries
the style-loss scale that keeps VGG19-tuned weights' content/style balance.
"""
import torch
from torch import nn

from . import efficientnet
from .layers import lite_layer_names, lite_style_layer_map


class EfficientNetLiteFeatures(nn.Module):
    """Frozen, BN-folded EfficientNet-Lite{variant}; forward(image, layers) -> {name: activation}.

    image: (N, 3, H, W) in [0, 1]; the Lite normalisation happens inside.
    """

    name = "efficientnet_lite"
    variant = 0
    layer_names = lite_layer_names(0)
    style_scale = 1e-3
    # Calibrated per Gram normalisation with benchmarks/calibrate_style_scale.py (README: the method
    # and the measurements): size-independent at 128 px, the seed's loss at the seed's 512 px.
    style_scales = {"size_independent": 1e-3, "seed": 1e-9}
    min_size = 32  # five stride-2 stages: 32 px leaves a 1x1 map at /32

    def __init__(self):
        super().__init__()
        self.net = efficientnet.load_efficientnet_lite(self.variant)
        self.weights = efficientnet.weights_info(self.variant)   # recorded with every run
        self.layer_map = {**{n: n for n in self.layer_names}, **lite_style_layer_map(self.variant)}

    def forward(self, image: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        unknown = set(layers) - set(self.layer_names)
        if unknown:
            raise KeyError(f"unknown EfficientNet-Lite{self.variant} layers {sorted(unknown)}; "
                           f"known: {self.layer_names}")
        return self.net.features(efficientnet.normalise(image), list(layers))


class EfficientNetLite0Features(EfficientNetLiteFeatures):
    """ImageNet EfficientNet-Lite0 (18 MB of weights): the offline default."""

    name, variant, layer_names = "efficientnet_lite0", 0, lite_layer_names(0)
    # Calibrated once (benchmarks/calibrate_style_scale.py): with it, the baseline preset's
    # style weight 1e6 acts as 1e3 here, where the converged weighted style and content terms
    # are about equal, the "moderate" balance the baseline stands for. See README.
    style_scale = 1e-3


class EfficientNetLite1Features(EfficientNetLiteFeatures):
    """ImageNet EfficientNet-Lite1: Lite0's widths, 21 blocks instead of 16 (trained at 240 px)."""

    name, variant, layer_names = "efficientnet_lite1", 1, lite_layer_names(1)
    style_scale = 1e-3
    style_scales = {"size_independent": 1e-3, "seed": 1e-9}  # calibrated like Lite0's: the same values


class EfficientNetLite2Features(EfficientNetLiteFeatures):
    """ImageNet EfficientNet-Lite2: 1.1x Lite1's widths, 21 blocks (trained at 260 px)."""

    name, variant, layer_names = "efficientnet_lite2", 2, lite_layer_names(2)
    style_scale = 1e-3
    style_scales = {"size_independent": 1e-3, "seed": 1e-9}  # calibrated like Lite0's: the same values
