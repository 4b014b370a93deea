"""Which backbone a run uses ('auto' resolved, with the reason as data and as a sentence), and
loading it ready and frozen."""
from typing import NamedTuple

from torch import nn

from . import vgg
from .layers import BACKBONES
from .features import EfficientNetLite0Features, EfficientNetLite1Features, EfficientNetLite2Features

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


FALLBACK = "efficientnet_lite0"  # what 'auto' uses when VGG19's weights cannot be had


class Choice(NamedTuple):
    """What choose_backbone decided: the backbone's name, why (one sentence for a person), and
    whether loading it tries a download first (which, offline, ends on FALLBACK)."""
    name: str
    why: str
    downloads: bool = False

    @property
    def likely(self) -> str:
        """The backbone a run will most likely end up on: an estimate made before loading it
        assumes a download fails (offline is the usual case here)."""
        return FALLBACK if self.downloads else self.name


def choose_backbone(name: str = "auto") -> Choice:
    """Resolve 'auto' to a concrete backbone name, with the reason (one human sentence).

    'auto' does not retry a download that failed less than vgg.RETRY_AFTER ago (the note in
    the cache folder): offline, every run would otherwise wait for the network to fail again.
    """
    if name not in BACKBONES:
        raise ValueError(f"unknown backbone {name!r}; choose one of {', '.join(BACKBONES)}")
    if name != "auto":
        return Choice(name, "asked for explicitly")
    try:
        if vgg.cached_weights_path() is not None:
            return Choice("vgg19", "its ImageNet weights are available locally")
    except vgg.WeightsUnavailable:
        pass
    age = vgg.recent_download_failure()
    if age is not None:
        return Choice(FALLBACK, f"{OFFLINE_WHY}, last tried {_ago(age)}; {HOW_TO_GET}")
    return Choice("vgg19", "trying to download its ImageNet weights", downloads=True)


def load_backbone(name: str = "auto", pooling: str = "max", verbose: bool = True) -> nn.Module:
    """A ready, frozen extractor. 'auto' = VGG19 if its weights can be had, else EfficientNet-Lite0.

    Prints one line saying which backbone is used and why (verbose=True).
    """
    chosen, why, _ = choose_backbone(name)
    if chosen == "vgg19":
        try:  # a download times out per request (vgg.DOWNLOAD_TIMEOUT), so a dead network can't hang
            model = vgg.load_vgg19(pooling=pooling)
        except vgg.WeightsUnavailable as err:
            if name != "auto":
                raise
            chosen = FALLBACK
            why = f"{OFFLINE_WHY}; {HOW_TO_GET}" if err.download_failed else f"VGG19 weights unavailable: {err.reason}"
    if chosen == "vgg19_original":
        from .vgg_original import load_vgg19_original
        model = load_vgg19_original(pooling=pooling)
    if chosen in OFFLINE:
        model = OFFLINE[chosen]()
    if verbose:
        print(f"[nst] backbone: {chosen} ({why})")
    return model
