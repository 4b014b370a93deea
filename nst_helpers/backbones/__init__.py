"""Backbones: frozen feature extractors behind one small interface.

Every extractor is an nn.Module with
    forward(image, layers) -> {name: activation}   image (N, 3, H, W) in [0, 1]
    layer_names   its own layer names, in forward order
    layer_map     the presets' VGG19 names (conv1_1 ... conv5_1, conv4_2) -> its own names
    style_scale   multiplies the style loss so VGG19-tuned weights give a similar balance
    min_size      the smallest image side it accepts
"""
from torch import nn

from . import efficientnet, vgg
from ..config import BACKBONES
from .features import (EfficientNetLite0Features, EfficientNetLite1Features,  # noqa: F401 (re-exported)
                       EfficientNetLite2Features, EfficientNetLiteFeatures)

# Backbones that need no download, by name; "vgg19" is loaded apart (it may be offline).
OFFLINE = {cls.name: cls for cls in (EfficientNetLite0Features, EfficientNetLite1Features,
                                     EfficientNetLite2Features)}


# What 'auto' says when it falls back: calm and short (no URL, no errno: offline is a normal
# place to be); an explicit --backbone vgg19 shows the full reason instead.
OFFLINE_WHY = "VGG19 weights not found and not downloadable here"
HOW_TO_GET = 'how to get them: README, "Backbones and weights"'


def _ago(seconds: float) -> str:
    if seconds < 60:
        return "just now"
    return f"{seconds / 60:.0f} min ago" if seconds < 5400 else f"{seconds / 3600:.0f} h ago"


def known_layer_names() -> set[str]:
    """Every layer name any backbone understands (configs are checked against this)."""
    return set(vgg.LAYER_NAMES).union(*(cls.layer_names for cls in OFFLINE.values()))


def choose_backbone(name: str = "auto") -> tuple[str, str]:
    """Resolve 'auto' to a concrete backbone name, with the reason (one human sentence).

    'auto' does not retry a download that failed less than vgg.RETRY_AFTER ago (the note in
    the cache folder): offline, every run would otherwise wait for the network to fail again.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if name != "auto":
        return name, "asked for explicitly"
    try:
        if vgg.cached_weights_path() is not None:
            return "vgg19", "its ImageNet weights are available locally"
    except vgg.WeightsUnavailable:
        pass
    age = vgg.recent_download_failure()
    if age is not None:
        return "efficientnet_lite0", f"{OFFLINE_WHY}, last tried {_ago(age)}; {HOW_TO_GET}"
    return "vgg19", "trying to download its ImageNet weights"


def load_backbone(name: str = "auto", pooling: str = "max", verbose: bool = True) -> nn.Module:
    """A ready, frozen extractor. 'auto' = VGG19 if its weights can be had, else EfficientNet-Lite0.

    Prints one line saying which backbone is used and why (verbose=True).
    """
    chosen, why = choose_backbone(name)
    if chosen == "vgg19":
        try:  # a download times out per request (vgg.DOWNLOAD_TIMEOUT), so a dead network can't hang
            model = vgg.load_vgg19(pooling=pooling)
        except vgg.WeightsUnavailable as err:
            if name != "auto":
                raise
            offline = err.reason.startswith("download failed")
            chosen = "efficientnet_lite0"
            why = f"{OFFLINE_WHY}; {HOW_TO_GET}" if offline else f"VGG19 weights unavailable: {err.reason}"
    if chosen in OFFLINE:
        model = OFFLINE[chosen]()
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
