"""Metrics, measure_runs and the whole pipeline whatever device images and backbone are on.

Parametrised over cpu, cuda and mps; a missing device is skipped with the reason. On a
CPU-only machine the stand-in backbone still catches a consumer that moves the caller's
module (every .to/.cuda/.float goes through nn.Module._apply, which it records).
"""
import copy

import pytest
import torch
from torch import nn
from torch.overrides import TorchFunctionMode
from torch.utils._pytree import tree_leaves

from nst_helpers import preset, run
from nst_helpers.notebook import compare as experiments
from nst_helpers.core import devices
from nst_helpers.runs import metrics
from nst_helpers.runs.folders import load_run, save_run


def _available(name: str) -> bool:
    if name == "cuda":
        return torch.cuda.is_available()
    if name == "mps":
        return getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available()
    return True


DEVICES = [pytest.param(d, marks=pytest.mark.skipif(not _available(d), reason=f"no {d.upper()} device on this machine"))
           for d in ("cpu", "cuda", "mps")]
VGG_NAMES = ("conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2")


class StandIn(nn.Module):
    """A small backbone with the real interface (name, layer_names, layer_map, style_scale,
    min_size, forward(image, layers) -> dict) that records the device of every input and
    every attempt to move or convert it, and fails if its weights ever leave `home`."""

    name = "stand_in"
    layer_names = ["s1", "s2", "s3", "s4", "s5", "c4"]
    style_scale = 1.0
    min_size = 16

    def __init__(self, home="cpu"):
        super().__init__()
        gen = torch.Generator().manual_seed(0)  # fixed weights without touching the global RNG
        chans = [3, 8, 8, 16, 16, 16, 16]
        self.convs = nn.ModuleList()
        for i, name in enumerate(self.layer_names):
            conv = nn.Conv2d(chans[i], chans[i + 1], 3, stride=1 if i in (0, 5) else 2, padding=1)
            with torch.no_grad():
                conv.weight.copy_(torch.randn(conv.weight.shape, generator=gen) * 0.3)
                conv.bias.zero_()
            self.convs.append(conv)
        self.layer_map = {**{n: n for n in self.layer_names}, **dict(zip(VGG_NAMES, self.layer_names))}
        self.requires_grad_(False)
        self.to(home)
        self.home, self.seen, self.moves = next(self.parameters()).device, [], []  # "cuda" -> "cuda:0"

    def _apply(self, fn, *args, **kwargs):
        if hasattr(self, "moves"):  # after __init__: someone else is moving or converting us
            self.moves.append(getattr(fn, "__name__", repr(fn)))
        return super()._apply(fn, *args, **kwargs)

    def forward(self, image, layers):
        here = next(self.parameters()).device
        assert here == self.home, f"the backbone was moved from {self.home} to {here} under its caller"
        self.seen.append(image.device)
        out, x = {}, image
        for name, conv in zip(self.layer_names, self.convs):
            x = torch.relu(conv(x))
            if name in layers:
                out[name] = x
        return out


def test_module_device_follows_parameters_then_buffers():
    assert devices.module_device(StandIn()) == torch.device("cpu")
    class BufferOnly(nn.Module):
        def __init__(self):
            super().__init__()
            self.register_buffer("mean", torch.zeros(3, device="meta"))
    assert devices.module_device(BufferOnly()) == torch.device("meta")
    assert devices.module_device(nn.ReLU()) == torch.device("cpu")


class OneDevicePerOp(TorchFunctionMode):
    """Fails any torch operation whose tensor arguments live on more than one device."""

    def __torch_function__(self, func, types, args=(), kwargs=None):
        kwargs = kwargs or {}
        devices = {t.device for t in tree_leaves((args, kwargs)) if isinstance(t, torch.Tensor)}
        if len(devices) > 1:
            raise AssertionError(f"{getattr(func, '__name__', func)} mixes tensors on {sorted(map(str, devices))}")
        return func(*args, **kwargs)


METRIC_CALLS = {
    "ssim": lambda x, y, net: metrics.ssim(x, y),
    "content_ssim": lambda x, y, net: metrics.content_ssim(x, y[..., :32, :32]),
    "content_distance": lambda x, y, net: metrics.content_distance(x, y, net),
    "gram_distance": lambda x, y, net: metrics.gram_distance(x, y, net),
    "colour_distance": lambda x, y, net: metrics.colour_distance(x, y),
    "total_variation": lambda x, y, net: metrics.total_variation(x),
    "high_frequency_energy": lambda x, y, net: metrics.high_frequency_energy(x),
}


@pytest.mark.parametrize("name", METRIC_CALLS)
def test_metrics_create_no_tensor_beside_the_inputs_device(name):
    """On the 'meta' device (a CPU-only stand-in for a GPU: shapes, no data) every operation
    must see one device; the only failure allowed is the last one, reading a number off meta."""
    x, y = torch.rand(1, 3, 40, 40, device="meta"), torch.rand(1, 3, 40, 40, device="meta")
    net = StandIn("meta")
    with OneDevicePerOp(), pytest.raises(RuntimeError, match="meta tensors"):
        METRIC_CALLS[name](x, y, net)
    if name in ("content_distance", "gram_distance"):  # CPU images, backbone on 'meta': moved to it
        with OneDevicePerOp(), pytest.raises(RuntimeError, match="meta tensors"):
            METRIC_CALLS[name](torch.rand(1, 3, 40, 40), torch.rand(1, 3, 40, 40), net)
    assert net.moves == []


@pytest.mark.parametrize("device", DEVICES)
def test_metrics_move_inputs_to_the_backbone_never_the_backbone(device, tiny_pair):
    content, style = tiny_pair
    image = (0.7 * content + 0.3 * style).clamp(0, 1)
    reference = metrics.measure(image, content, style, StandIn("cpu"), [{"total": 2.0}])
    net = StandIn(device)
    # images on the CPU (as loaded from PNG), on the device, and mixed
    for placed in ((image, content, style), tuple(t.to(device) for t in (image, content, style)),
                   (image.to(device), content, style.to(device))):
        got = metrics.measure(*placed, net, [{"total": 2.0}])
        assert got.keys() == reference.keys()
        for key in reference:  # an independent computation: the same numbers from the all-CPU run
            assert got[key] == pytest.approx(reference[key], rel=1e-4, abs=1e-6), key
    assert net.moves == [], "a metric moved or converted the caller's backbone"
    assert net.seen and set(net.seen) == {net.home}


def test_measure_runs_never_moves_the_backbone(tiny_pair):
    content, style = tiny_pair
    loaded = {"exp1": {"image": style.flip(-1), "content": content, "style": style, "history": [{"total": 1.0}]}}
    net = StandIn()
    rows = experiments.measure_runs(loaded, net)
    assert list(rows) == ["exp1", "(content photo)", "(style image)"]
    assert rows["(content photo)"]["ssim"] == pytest.approx(1.0) and rows["(style image)"]["gram_distance"] == 0.0
    assert net.moves == [] and set(net.seen) == {torch.device("cpu")}


def test_run_with_a_stand_in_backbone_keeps_it_where_it_was(tiny_pair, tmp_path):
    """The whole pipeline on the CPU: the stand-in asserts on every forward that it was not moved."""
    net = StandIn()
    cfg = preset("fast", steps=3, size=32, snapshot_every=1, early_stop_window=0)
    result = run(*tiny_pair, cfg, backbone=net, device="cpu", progress=False)
    assert len(result.history) == 3 and result.backbone == "stand_in"
    loaded = load_run(save_run(result, root=tmp_path))
    rows = experiments.measure_runs({"fast": loaded}, net)
    assert rows["fast"]["total_loss"] == pytest.approx(result.history[-1]["total"], rel=1e-6)
    assert set(net.seen) == {torch.device("cpu")} and next(net.parameters()).device == net.home


@pytest.mark.parametrize("device", DEVICES)
def test_pipeline_on_a_device(device, effnet, tiny_pair, tmp_path):
    """run -> save_run -> load_run -> measure_runs with the device given explicitly; the
    measurements equal the CPU's on the same saved images."""
    net = copy.deepcopy(effnet)  # run() may move its backbone: never the session's
    cfg = preset("fast", steps=3, size=64, snapshot_every=1, backbone="efficientnet_lite0")
    result = run(*tiny_pair, cfg, backbone=net, device=device, progress=False)
    assert result.device.startswith(device) and result.image.device.type == "cpu"
    assert len(result.history) == 3 and all(torch.isfinite(torch.tensor(r["total"])) for r in result.history)
    folder = save_run(result, root=tmp_path)
    loaded = load_run(folder)
    assert loaded["meta"]["device"] == result.device
    on_device = experiments.measure_runs({"fast": loaded}, net)   # CPU images, backbone wherever run left it
    on_cpu = experiments.measure_runs({"fast": loaded}, effnet)
    for label, row in on_cpu.items():
        for key, value in row.items():
            assert on_device[label][key] == pytest.approx(value, rel=2e-3, abs=1e-6, nan_ok=True), (label, key)


@pytest.mark.parametrize("device", DEVICES)
def test_explorer_measures_its_run_on_a_device(device, effnet, tmp_path):
    from pathlib import Path

    from nst_helpers.notebook.explorer import ExplorerPanel
    images = Path(__file__).resolve().parents[1] / "images"
    net = copy.deepcopy(effnet)
    panel = ExplorerPanel(images_dir=images, out_root=tmp_path, backbone="efficientnet_lite0",
                          backbones={"efficientnet_lite0": net}, device=device, size=64, steps=3)
    try:
        assert panel.start() and panel.wait(120)
    finally:
        panel.stop()
        panel.wait(60)
    assert panel.error is None and "metrics unavailable" not in panel.metrics, panel.metrics
    r = panel.result
    expected = metrics.measure(r.image, r.content, r.style, effnet)
    for key, value in panel.metrics.items():
        assert value == pytest.approx(expected[key], rel=2e-3, abs=1e-6), key
