"""Stylising with a trained network: model files, any picture size, ONNX export and onnxruntime.

    net = load_model("outputs/train/<run>/model.pt")
    picture = stylize("photo.jpg", net, size=512)       # (1, 3, h, w) in [0, 1]
    export_onnx(net, "model.onnx")                       # checked against PyTorch: ONNX_TOLERANCE
    picture = OnnxStylizer("model.onnx")(photo)          # the same picture through onnxruntime

A model file is a dict of plain tensors and numbers (read with torch.load(weights_only=True): no
code in it runs); anything else is refused in one line.
"""
import warnings
from pathlib import Path

import numpy as np
import torch

from ..core.images import load_image
from ..runs.folders import save_tensors
from .net import TransformNet, pad, settings, shape_problem

FORMAT = "nst_helpers.feedforward/1"
# the largest difference allowed between onnxruntime's picture and PyTorch's, in [0, 1] units (1/255
# is one step of an 8-bit picture): the two run the same float32 maths in another order
ONNX_TOLERANCE = 1e-4


class ModelError(ValueError):
    """A file that is not a feed-forward model, in one line with the fix."""


def save_model(net: TransformNet, path, meta: dict | None = None) -> Path:
    return save_tensors(path, {"format": FORMAT, **settings(net), "state_dict": net.state_dict(), "meta": meta or {}})


def load_model(path) -> TransformNet:
    """The network in a model.pt (eval mode); ModelError if the file is not one."""
    path = Path(path)
    if not path.is_file():
        raise ModelError(f"--model {path}: no such file; give the model.pt a `train` run wrote")
    fix = "give the model.pt a `python -m nst_helpers train` run wrote"
    try:
        saved = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as err:   # not a torch file, cut short, or one needing code to unpickle
        raise ModelError(f"{path} is not a model file ({type(err).__name__}); {fix}") from None
    if not isinstance(saved, dict) or saved.get("format") != FORMAT:
        raise ModelError(f"{path} is not a feed-forward model (a torch file, but not one `train` wrote); {fix}")
    if problem := shape_problem(saved.get("width"), saved.get("blocks")):   # before building it: 10**7 blocks hang
        raise ModelError(f"{path} is not a model `train` could write ({problem}); {fix}")
    try:
        net = TransformNet(saved["width"], saved["blocks"])
        net.load_state_dict(saved["state_dict"])
    except (KeyError, RuntimeError, ValueError, TypeError) as err:
        raise ModelError(f"{path} is a damaged model file ({type(err).__name__}); {fix}") from None
    net.meta = saved.get("meta", {})
    return net.eval()


def stylize(image, net: TransformNet, size: int | None = None) -> torch.Tensor:
    """Path, PIL image, array or (1, 3, H, W) tensor -> (1, 3, h, w) in [0, 1]; size: the longest
    side (None: the picture's own)."""
    x = image if isinstance(image, torch.Tensor) else load_image(image, max_size=size)
    with torch.no_grad():
        return net(x.float()).clamp(0, 1)


class _Core(torch.nn.Module):
    """What the ONNX file holds: the network on a picture padded to a multiple of 4 (the padding and
    cropping, shape arithmetic, are done around the session, in numpy)."""

    def __init__(self, net):
        super().__init__()
        self.net = net

    def forward(self, x):
        return self.net.core(x)


def export_onnx(net: TransformNet, path, check: tuple = (1, 3, 100, 132)) -> float:
    """Write the network as ONNX (any height and width, batch 1+) and return the largest difference
    from PyTorch's picture on a random input of shape `check`; ValueError past ONNX_TOLERANCE."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dummy = torch.rand(1, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with warnings.catch_warnings():   # the exporter's notes (constant folding; InstanceNorm exported as
        warnings.simplefilter("ignore")  # "train": it has no running statistics, so the two are the same)
        torch.onnx.export(_Core(net.eval()), (dummy,), str(path), input_names=["photo"], output_names=["picture"],
                          dynamic_axes={"photo": {0: "n", 2: "h", 3: "w"}, "picture": {0: "n", 2: "h", 3: "w"}},
                          opset_version=17, dynamo=False)
    x = torch.rand(*check, generator=torch.Generator().manual_seed(1))
    diff = float((OnnxStylizer(path)(x) - stylize(x, net)).abs().max())
    if diff > ONNX_TOLERANCE:
        raise ValueError(f"{path}: onnxruntime's picture differs from PyTorch's by {diff:.2g} (> {ONNX_TOLERANCE:g})")
    return diff


class OnnxStylizer:
    """An onnxruntime session over an export_onnx file: __call__((1, 3, H, W) tensor) -> (1, 3, H, W)."""

    def __init__(self, path, threads: int | None = None):
        import onnxruntime as ort
        options = ort.SessionOptions()
        if threads:
            options.intra_op_num_threads = threads
        self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[-2:]
        padded = np.ascontiguousarray(pad(x).float().numpy())   # as TransformNet.forward pads
        out = self.session.run(None, {"photo": padded})[0]
        return torch.from_numpy(out)[..., :h, :w].clamp(0, 1)


def onnx_available() -> bool:
    """True when onnx and onnxruntime are installed (pip install nst-helpers[realtime])."""
    try:
        import onnx  # noqa: F401
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True
