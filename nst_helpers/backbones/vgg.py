"""VGG19 as a named-layer feature extractor (the Gatys et al. backbone).

torchvision's `vgg19().features` is a flat nn.Sequential; Gatys-style code refers to
its layers by block names (conv4_2, relu3_1, pool2, ...). This file owns that naming,
the weight loading (hub cache, download, or a local file) and max/avg pooling.
"""
import errno
import hashlib
import os
import pickle
import tempfile
import urllib.request
from pathlib import Path

import torch
from torch import nn

from .layers import VGG19_CFG, VGG19_LAYERS

WEIGHTS_ENV = "NST_VGG19_WEIGHTS"  # path to a local vgg19 state dict (.pth)
WEIGHTS_FILE = "vgg19-dcbb9e9d.pth"  # torchvision's IMAGENET1K_V1 file name
WEIGHTS_URL = "https://download.pytorch.org/models/" + WEIGHTS_FILE
WEIGHTS_SHA256_PREFIX = "dcbb9e9d"  # torch.hub's convention: the name carries the hash's start
DOWNLOAD_TIMEOUT = 30  # seconds per connect / read: a dead network must not hang a run
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


LAYER_NAMES = VGG19_LAYERS


class WeightsUnavailable(RuntimeError):
    """The VGG19 ImageNet weights could not be found or downloaded; says how to get them.
    download_failed: they were not here and the download failed (offline, usually)."""

    def __init__(self, reason: str, download_failed: bool = False):
        self.reason, self.download_failed = reason, download_failed
        super().__init__(_how_to_get_weights(reason))


class CorruptWeights(WeightsUnavailable):
    """A VGG19 weights file exists but cannot be used (cut short, not PyTorch's, another network's)."""

    def __init__(self, path: Path, err: BaseException):
        self.download_failed = False
        self.reason = f"the file {path} could not be used: {_weights_problem(err)}"
        where = f"{path} (from {WEIGHTS_ENV})" if os.environ.get(WEIGHTS_ENV) else str(path)
        RuntimeError.__init__(self, f"the VGG19 weights file {where} could not be used: {_weights_problem(err)}; "
                                    f"replace it with a good copy of {WEIGHTS_FILE}, unset {WEIGHTS_ENV}, "
                                    "or use --backbone efficientnet_lite0 (backbone='efficientnet_lite0')")


def _weights_problem(err: BaseException) -> str:
    """torch.load's and load_state_dict's many ways of saying 'bad file', as a few words."""
    text = str(err)
    if isinstance(err, OSError) and err.errno not in (None, errno.EINVAL):  # EINVAL: torch's zip reader ran out
        return f"it cannot be read ({err.strerror or err})"
    if isinstance(err, (EOFError, OSError)) or "central directory" in text or "zip archive" in text:
        return "it is empty or cut short (an interrupted download?)"
    if "state_dict" in text:
        return "it holds other weights than VGG19's"
    return "it is not a PyTorch weights file"


def _hub_path() -> Path:
    """Where torchvision keeps (and we download) the weights: $TORCH_HOME/hub/checkpoints/."""
    return Path(torch.hub.get_dir()) / "checkpoints" / WEIGHTS_FILE


def _how_to_get_weights(reason: str) -> str:
    hub = _hub_path()
    return (f"VGG19 ImageNet weights are not available ({reason}). Either connect to the internet "
            f"once (torchvision downloads them to {hub}), copy {WEIGHTS_FILE} there, or set "
            f"{WEIGHTS_ENV}=/path/to/{WEIGHTS_FILE}. Without them, use the offline backbone: "
            f"backbone='efficientnet_lite0' (or --backbone efficientnet_lite0), whose weights ship with pip.")


def cached_weights_path() -> Path | None:
    """Where usable weights are without any download: the env-var file, else the hub cache."""
    env = os.environ.get(WEIGHTS_ENV)
    if env:
        if not Path(env).is_file():
            raise WeightsUnavailable(f"{WEIGHTS_ENV}={env} is not a file")
        return Path(env)
    hub = _hub_path()
    return hub if hub.is_file() else None


def _download(url: str, dst: Path, sha256_prefix: str, timeout: float = DOWNLOAD_TIMEOUT) -> None:
    """Stream `url` to `dst` via a temporary file beside it, renamed only once its sha256 checks out.

    The timeout is urlopen's, per request: unlike socket.setdefaulttimeout it changes nothing
    for other threads. A failed or corrupt download leaves no file behind.
    """
    from ..core.progress import progress_bar  # tqdm's text bar on a terminal or in a notebook (no
    # widgets here), plain lines in a log

    dst.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=dst.parent, prefix=dst.name + ".", suffix=".part")
    digest = hashlib.sha256()
    try:
        with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as response:
            size = int(response.headers.get("Content-Length") or 0) or None
            with progress_bar(total=size, unit="B", desc=dst.name, widget=False, unit_scale=True) as bar:
                while chunk := response.read(1 << 20):
                    out.write(chunk)
                    digest.update(chunk)
                    bar.update(len(chunk))
        if not digest.hexdigest().startswith(sha256_prefix):
            raise OSError(f"corrupt download: sha256 {digest.hexdigest()[:12]}... does not start with {sha256_prefix}")
        os.replace(tmp, dst)  # atomic: readers never see half a file
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def load_vgg19_state_dict(download: bool = True) -> dict:
    """Explicit file ($NST_VGG19_WEIGHTS) wins, then torch's hub cache, then a download there.

    Files are loaded with weights_only=True: a .pth from elsewhere can't run code.
    """
    path = cached_weights_path()
    if path is not None:
        return torch.load(path, map_location="cpu", weights_only=True)
    if not download:
        raise WeightsUnavailable("not cached and downloads are off")
    try:  # into torch's hub cache, where torchvision would put it, hash checked
        _download(WEIGHTS_URL, _hub_path(), WEIGHTS_SHA256_PREFIX, timeout=DOWNLOAD_TIMEOUT)
    except Exception as err:  # URLError, socket timeouts, HTTP errors, bad hash
        raise WeightsUnavailable(f"download failed: {err}", download_failed=True) from None
    return torch.load(_hub_path(), map_location="cpu", weights_only=True)


class VGG19Features(nn.Module):
    """Frozen VGG19 conv stack; `forward(image, layers)` returns named activations.

    image: (N, 3, H, W) in [0, 1]; ImageNet normalisation happens inside.
    pooling: "max" (torchvision's) or "avg" (Gatys et al. found it gives smoother results).
    """

    name = "vgg19"
    layer_names = LAYER_NAMES
    layer_map = {n: n for n in LAYER_NAMES}  # the presets already speak VGG
    style_scale = 1.0  # the reference: presets' weights were tuned for VGG19
    # Not measured (torchvision's weights are not here): the original's 5e4 over the ratio of the two
    # input conventions squared, (255 * 0.226)^2 = 3300, for a content term of squared activations.
    tv_scale = 15.0
    style_scales = {"seed": 1.0, "size_independent": 1.0}  # the seed on its own loss; the tutorial on its
    min_size = 32      # five 2x pools need at least 32 px to leave a 1x1 map
    input_mean, input_std = IMAGENET_MEAN, IMAGENET_STD  # what the weights were trained on (RGB, [0, 1] units)
    weights = {"source": "none: random initialisation"}  # which weights, recorded with every run

    def __init__(self, state_dict: dict | None = None, pooling: str = "max"):
        super().__init__()
        if pooling not in ("max", "avg"):
            raise ValueError(f"pooling must be 'max' or 'avg', got {pooling!r}")
        layers, in_ch, self.pooling = [], 3, pooling
        for v in VGG19_CFG:
            if v == "M":
                layers.append(nn.MaxPool2d(2, 2) if pooling == "max" else nn.AvgPool2d(2, 2))
            else:
                layers += [nn.Conv2d(in_ch, v, 3, padding=1), nn.ReLU(inplace=False)]
                in_ch = v
        self.features = nn.Sequential(*layers)
        if state_dict is not None:
            # torchvision keys are "features.N.weight" plus the classifier's, which we drop.
            own = {k: v for k, v in state_dict.items() if k.startswith("features.")}
            self.load_state_dict(own, strict=True)
        self.register_buffer("mean", torch.tensor(self.input_mean).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor(self.input_std).view(1, 3, 1, 1))
        self.eval().requires_grad_(False)

    def forward(self, image: torch.Tensor, layers: list[str]) -> dict[str, torch.Tensor]:
        """Activations for `layers` (names from LAYER_NAMES); stops after the deepest one."""
        wanted = set(layers)
        unknown = wanted - set(LAYER_NAMES)
        if unknown:
            raise KeyError(f"unknown VGG19 layers {sorted(unknown)}; known: {LAYER_NAMES}")
        last = max(LAYER_NAMES.index(n) for n in wanted)
        x, out = (image - self.mean) / self.std, {}
        for name, module in zip(LAYER_NAMES[: last + 1], self.features):
            x = module(x)
            if name in wanted:
                out[name] = x
        return out


def load_vgg19(pooling: str = "max", download: bool = True) -> VGG19Features:
    """Pretrained VGG19 features; raises WeightsUnavailable with instructions when offline, and
    CorruptWeights (a WeightsUnavailable) naming the file when it is cut short or not VGG19's."""
    try:
        net = VGG19Features(load_vgg19_state_dict(download), pooling=pooling)
        net.weights = {"source": "torchvision IMAGENET1K_V1", "file": str(cached_weights_path() or _hub_path()),
                       "sha256_prefix": WEIGHTS_SHA256_PREFIX}
        return net
    except WeightsUnavailable:
        raise
    except (RuntimeError, OSError, EOFError, KeyError, pickle.UnpicklingError) as err:
        raise CorruptWeights(cached_weights_path() or _hub_path(), err) from None
