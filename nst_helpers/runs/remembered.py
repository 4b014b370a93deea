"""Reference statistics remembered between measurements: a comparison measures many results
against one photo and one painting, so their features are computed once, not once a result.

    remembered(backbone, "content:conv4_2", photo, lambda x: ...)   # f(x) once per (net, image, what)

Keyed by the backbone (weakly: a dropped network drops its entries), a label for what is
computed, and the image's shape and bytes (a blake2b digest: an edited tensor is a new image).
A few entries per backbone, the oldest dropped first.
"""
import hashlib
import weakref

import torch

KEEP = 6   # entries per backbone: a photo and a painting for each of three rulers
_store: "weakref.WeakKeyDictionary" = weakref.WeakKeyDictionary()


def digest(image: torch.Tensor) -> tuple:
    """(shape, dtype, 16-byte digest of the values): the same for equal tensors on any device."""
    data = image.detach().to("cpu").contiguous()
    return tuple(data.shape), str(data.dtype), hashlib.blake2b(data.numpy().tobytes(), digest_size=16).digest()


def remembered(owner, what: str, image: torch.Tensor, compute):
    """compute(image), or the value it gave for an equal image with the same owner and `what`."""
    if image.device.type == "meta":   # no values to tell images apart (shape checks, tests)
        return compute(image)
    entries = _store.setdefault(owner, {})
    key = (what, digest(image))
    if key not in entries:
        while len(entries) >= KEEP:
            entries.pop(next(iter(entries)))
        entries[key] = compute(image)
    return entries[key]
