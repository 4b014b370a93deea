"""Backbones: frozen feature extractors behind one small interface.

Every extractor is an nn.Module with
    forward(image, layers) -> {name: activation}   image (N, 3, H, W) in [0, 1]
    layer_names   its own layer names, in forward order
    layer_map     the presets' VGG19 names (conv1_1 ... conv5_1, conv4_2) -> its own names
    style_scale   multiplies the style loss so VGG19-tuned weights give a similar balance
    min_size      the smallest image side it accepts
"""
import socket

import torch
from torch import nn

from . import efficientnet, vgg

from ..config import BACKBONES


class EfficientNetLite0Features(nn.Module):
    """ImageNet EfficientNet-Lite0 (weights ship in a pip package, so it works offline)."""

    name = "efficientnet_lite0"
    layer_names = efficientnet.LAYER_NAMES
    # Calibrated once (benchmarks/calibrate_style_scale.py): with it, the baseline preset's
    # style weight 1e6 acts as 1e3 here, where the converged weighted style and content terms
    # are about equal, the "moderate" balance the baseline stands for. See README.
    style_scale = 1e-3
    min_size = 32

    def __init__(self):
        super().__init__()
        self.net = efficientnet.load_efficientnet_lite0()
        self.layer_map = {**{n: n for n in self.layer_names}, **efficientnet.STYLE_LAYER_MAP}

    def forward(self, image: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        unknown = set(layers) - set(self.layer_names)
        if unknown:
            raise KeyError(f"unknown EfficientNet-Lite0 layers {sorted(unknown)}; known: {self.layer_names}")
        return self.net.features(efficientnet.normalise(image), list(layers))


def known_layer_names() -> set[str]:
    """Every layer name any backbone understands (configs are checked against this)."""
    return set(vgg.LAYER_NAMES) | set(efficientnet.LAYER_NAMES)


def choose_backbone(name: str = "auto") -> tuple[str, str]:
    """Resolve 'auto' to a concrete backbone name, with the reason (one human sentence)."""
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if name != "auto":
        return name, "asked for explicitly"
    try:
        if vgg.cached_weights_path() is not None:
            return "vgg19", "its ImageNet weights are available locally"
    except vgg.WeightsUnavailable:
        pass
    return "vgg19", "trying to download its ImageNet weights"


def load_backbone(name: str = "auto", pooling: str = "max", verbose: bool = True) -> nn.Module:
    """A ready, frozen extractor. 'auto' = VGG19 if its weights can be had, else EfficientNet-Lite0.

    Prints one line saying which backbone is used and why (verbose=True).
    """
    chosen, why = choose_backbone(name)
    if chosen == "vgg19":
        old = socket.getdefaulttimeout()
        socket.setdefaulttimeout(30)  # a dead network must not hang an 'auto' run
        try:
            model = vgg.load_vgg19(pooling=pooling)
        except vgg.WeightsUnavailable as err:
            if name != "auto":
                raise
            chosen, why = "efficientnet_lite0", f"VGG19 weights unavailable: {err.reason}"
        finally:
            socket.setdefaulttimeout(old)
    if chosen == "efficientnet_lite0":
        model = EfficientNetLite0Features()
    if verbose:
        print(f"[nst] backbone: {chosen} ({why})")
    return model


def resolve_layers(backbone: nn.Module, layers) -> list[str]:
    """Translate preset layer names (VGG19's or the backbone's own) to the backbone's names."""
    out = []
    for name in layers:
        if name not in backbone.layer_map:
            raise KeyError(f"layer {name!r} means nothing to {backbone.name}; "
                           f"use one of {sorted(backbone.layer_map)}")
        out.append(backbone.layer_map[name])
    return out
