"""'auto' offline: one calm line, and a failed VGG19 download remembered instead of retried each run."""
import json
import time
import urllib.error

import pytest
import torch

from nst_helpers import backbones
from nst_helpers.backbones import vgg


@pytest.fixture
def offline(tmp_path, monkeypatch):
    """An empty hub cache and a network that fails like a machine without DNS; counts the attempts."""
    monkeypatch.delenv(vgg.WEIGHTS_ENV, raising=False)
    monkeypatch.delenv(vgg.CACHE_ENV, raising=False)
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))
    attempts = []

    def no_dns(url, dst, sha256_prefix, timeout=None):
        attempts.append(url)
        raise urllib.error.URLError(OSError(-2, "Name or service not known"))

    monkeypatch.setattr(vgg, "_download", no_dns)
    return attempts


def note(tmp_path):
    return tmp_path / "hub" / "checkpoints" / vgg.FAILED_NOTE


def test_auto_says_one_calm_line_and_the_second_run_does_not_try_again(offline, tmp_path, capsys):
    assert backbones.load_backbone("auto").name == "efficientnet_lite0"
    first = capsys.readouterr().out.splitlines()
    assert offline == [vgg.WEIGHTS_URL] and note(tmp_path).is_file()
    assert backbones.load_backbone("auto").name == "efficientnet_lite0"
    second = capsys.readouterr().out.splitlines()
    assert offline == [vgg.WEIGHTS_URL]  # remembered: no second attempt
    for out in (first, second):
        assert len(out) == 1 and out[0].startswith("[nst] backbone: efficientnet_lite0 (")
        assert backbones.OFFLINE_WHY in out[0] and 'README, "Backbones and weights"' in out[0]
        assert not any(w in out[0] for w in ("http", "Errno", "urlopen", "Name or service"))
    assert "here, last tried just now;" in second[0] and "last tried" not in first[0]
    assert backbones.choose_backbone("auto")[0] == "efficientnet_lite0"


def test_the_note_expires_after_a_day(offline, tmp_path, monkeypatch, capsys):
    backbones.load_backbone("auto")
    written = json.loads(note(tmp_path).read_text())
    assert "Name or service not known" in written["error"]  # the full reason is kept, for whoever looks
    t = written["time"]
    assert vgg.recent_download_failure(now=t + vgg.RETRY_AFTER - 1) == pytest.approx(vgg.RETRY_AFTER - 1)
    assert vgg.recent_download_failure(now=t + vgg.RETRY_AFTER) is None
    assert vgg.recent_download_failure(now=t - 60) is None  # a clock set back does not block for ever
    later = time.time() + vgg.RETRY_AFTER + 1
    monkeypatch.setattr(vgg.time, "time", lambda: later)
    backbones.load_backbone("auto")
    assert len(offline) == 2  # tried again
    assert "last tried" not in capsys.readouterr().out.splitlines()[-1]


def test_explicit_vgg19_still_tries_and_shows_the_full_reason(offline, tmp_path):
    backbones.load_backbone("auto", verbose=False)
    with pytest.raises(vgg.WeightsUnavailable) as err:
        backbones.load_backbone("vgg19")
    assert len(offline) == 2
    assert "download failed" in str(err.value) and "Name or service not known" in str(err.value)
    assert str(tmp_path) in str(err.value)  # where to put the file


def test_a_download_that_works_forgets_the_failure(offline, tmp_path, monkeypatch):
    backbones.load_backbone("auto", verbose=False)
    assert note(tmp_path).is_file()
    state = {f"features.{k}": v for k, v in vgg.VGG19Features().features.state_dict().items()}
    monkeypatch.setattr(vgg, "_download", lambda url, dst, sha, timeout=None: torch.save(state, dst))
    assert backbones.load_backbone("vgg19", verbose=False).name == "vgg19"
    assert not note(tmp_path).exists()
    assert backbones.choose_backbone("auto")[:2] == ("vgg19", "its ImageNet weights are available locally")


def test_nst_cache_holds_the_note_and_an_unwritable_cache_is_no_error(offline, tmp_path, monkeypatch):
    monkeypatch.setenv(vgg.CACHE_ENV, str(tmp_path / "nst-cache"))
    backbones.load_backbone("auto", verbose=False)
    assert (tmp_path / "nst-cache" / vgg.FAILED_NOTE).is_file() and not note(tmp_path).exists()
    (tmp_path / "a-file").write_text("")
    monkeypatch.setenv(vgg.CACHE_ENV, str(tmp_path / "a-file" / "cache"))  # cannot be a folder
    for _ in range(2):
        assert backbones.load_backbone("auto", verbose=False).name == "efficientnet_lite0"
    assert len(offline) == 3  # nothing remembered, so each run tries: slower, never broken


def test_an_unreadable_note_means_try_again(offline, tmp_path):
    note(tmp_path).parent.mkdir(parents=True)
    note(tmp_path).write_text("{not json")
    assert vgg.recent_download_failure() is None
    backbones.load_backbone("auto", verbose=False)
    assert len(offline) == 1 and json.loads(note(tmp_path).read_text())["url"] == vgg.WEIGHTS_URL
