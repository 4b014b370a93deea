"""Spatial control (core/masks.py), by its defining properties: outside every mask the picture
stays the photo; a mask of ones is no mask at all; a region's Gram matrix is the sum over its own
positions; two masks give two regions their two styles; masks resize, resume, and are recorded."""
import json
from pathlib import Path

import pytest
import torch

from nst_helpers import preset, run
from nst_helpers.cli import main
from nst_helpers.core import losses, masks
from nst_helpers.runs import checkpoint, folders
from test_faults_storage import TINY
from margins import above, below


def halves(h=64, w=64):
    """(left, right): hard masks (1, 1, h, w) of the two halves, split on the 16-px pooling grid."""
    left = torch.zeros(1, 1, h, w)
    left[..., : w // 2] = 1
    return left, 1 - left


def lite(**changes):
    return preset("fast", **{"size": 64, "steps": 6, "backbone": "efficientnet_lite0", **changes})


@pytest.mark.parametrize("init", ["content", "gray", "content_in_style_colours"])
def test_outside_every_mask_the_picture_stays_the_photo(init, tiny_pair, effnet):
    content, style = tiny_pair
    left, _ = halves()
    result = run(content, style, lite(init=init), masks=[left], backbone=effnet, progress=False)
    # x -> z = (x - mean) / std -> x again rounds by a few 1e-8: nothing else moved there
    below((result.image[..., 32:] - content[..., 32:]).abs().max(), 1e-6, f"largest change outside the mask, {init}")
    above((result.image[..., :32] - content[..., :32]).abs().mean(), 0.01, f"mean change inside the mask, {init}")   # the style went there


def test_a_mask_of_ones_is_no_mask(tiny_pair, effnet):
    content, style = tiny_pair
    plain = run(content, style, lite(), backbone=effnet, progress=False)
    ones = run(content, style, lite(), masks=[torch.ones(64, 64)], backbone=effnet, progress=False)
    assert torch.equal(ones.image, plain.image)
    assert [r["total"] for r in ones.history] == [r["total"] for r in plain.history]


@pytest.mark.parametrize("norm", ["seed", "size_independent"])
def test_a_regions_gram_is_the_sum_over_its_own_positions(norm):
    g = torch.Generator().manual_seed(3)
    feats = {"a": torch.rand(1, 5, 8, 8, generator=g)}
    target = {"a": losses.gram_matrix(torch.rand(1, 5, 8, 8, generator=g), norm)}
    mask = torch.zeros(1, 1, 32, 32)
    mask[..., 8:24, :16] = 1   # at the layer's 8 x 8: rows 2..5, columns 0..3
    got = masks.style_loss(feats, [(mask, target)], {"a": 0.7}, norm, {})
    # by hand: the Gram over the region's 16 positions, the target scaled to its area, per area
    f = feats["a"][0].reshape(5, 64)
    inside = [r * 8 + c for r in range(2, 6) for c in range(4)]
    gram = sum(torch.outer(f[:, p], f[:, p]) for p in inside)
    gram = gram if norm == "seed" else gram / (5 * 64)
    a = len(inside) / 64
    mse = ((gram - a * target["a"][0]) ** 2).mean()
    want = 0.7 * (mse / (5 * 64) if norm == "seed" else mse) / a
    assert torch.allclose(got, want, rtol=1e-5)


def test_two_masks_give_each_region_its_style(tiny_pair, effnet):
    content, _ = tiny_pair
    red, blue = (torch.tensor(c).view(1, 3, 1, 1) * (0.75 + 0.25 * torch.rand(1, 1, 64, 64, generator=torch.Generator()
                 .manual_seed(i))) for i, c in enumerate(([0.9, 0.2, 0.1], [0.1, 0.2, 0.9])))
    left, right = halves()
    result = run(content, [red, blue], lite(steps=12, init="content"), masks=[left, right], backbone=effnet,
                 progress=False)
    redness = (result.image[0, 0] - result.image[0, 2])   # red minus blue, per pixel
    assert redness[:, :24].mean() > redness[:, 40:].mean() + 0.2   # red on the left, blue on the right
    assert len(result.masks) == 2 and result.masks[0].shape == (1, 1, 64, 64)


def test_a_mask_of_another_size_is_resized_to_the_photo():
    content = torch.rand(1, 3, 48, 64)
    big = torch.zeros(1, 96, 128)
    big[:, :, :64] = 1
    (mask,) = masks.load_masks([big], content, 1)
    assert mask.shape == (1, 1, 48, 64)
    assert mask[..., :30].min() > 0.99 and mask[..., 34:].max() < 0.01


def test_masks_resume_bit_for_bit(tmp_path, tiny_pair, effnet):
    content, style = tiny_pair
    left, _ = halves()
    cfg = preset("fast", size=64, steps=6, snapshot_every=2, backbone="efficientnet_lite0")
    whole = run(content, style, cfg, masks=[left], backbone=effnet, progress=False)
    stop = type("Stop", (), {"now": False, "is_set": lambda self: self.now})()
    run(content, style, cfg, masks=[left], backbone=effnet, progress=False, stop_event=stop, callback_every=1,
        callbacks=[lambda step, row, image: setattr(stop, "now", step == 3)], checkpoints=checkpoint.Checkpoints(tmp_path))
    resumed = checkpoint.resume(tmp_path, backbone=effnet, progress=False)
    assert torch.equal(resumed.image, whole.image) and torch.equal(resumed.masks[0], whole.masks[0])
    assert (tmp_path / "masks.png").is_file() and folders.is_complete(tmp_path)


def test_masks_from_the_command_line_are_recorded_and_repeat(tmp_path, capsys):
    code = main([*TINY, "--steps", "2", "--mask", "images/mask_background.png", "--out", str(tmp_path / "a")])
    assert code == 0, capsys.readouterr().err
    first = next((tmp_path / "a").glob("fast/*"))
    meta = json.loads((first / "config.json").read_text(encoding="utf-8"))
    assert meta["mask"] == [str(Path("images/mask_background.png").resolve())]
    assert main(["--config", str(first / "config.json"), "--no-progress", "--out", str(tmp_path / "b")]) == 0
    again = next((tmp_path / "b").glob("fast/*"))
    assert torch.equal(torch.load(again / "final.pt"), torch.load(first / "final.pt"))
    capsys.readouterr()
