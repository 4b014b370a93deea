"""The fast preset's pyramid on awkward images: a wide image skips the levels too thin for the
backbone and keeps the whole step budget; every level's history rows carry its size."""
import torch

from nst_helpers import preset, run
from nst_helpers.core.plan import level_shape


def test_wide_image_skips_levels_too_thin_for_the_backbone(effnet):
    wide = torch.rand(1, 3, 60, 600)   # 10:1
    cfg = preset("fast", size=512, steps=8, backbone="efficientnet_lite0", snapshot_every=4)
    assert cfg.scales == 3
    shapes = {s: level_shape((60, 600), s, 512) for s in (256, 362, 512)}
    assert [min(hw) >= effnet.min_size for hw in shapes.values()] == [False, True, True]
    r = run(wide, torch.rand(1, 3, 64, 64), cfg, backbone=effnet, progress=False)
    sizes = [row["size"] for row in r.history]
    assert len(sizes) == 8 and set(sizes) == {362, 512} and sizes == sorted(sizes)
    assert r.image.shape == (1, 3, 51, 512)


def test_pyramid_grows_the_image_coarse_to_fine(effnet, tiny_pair):
    cfg = preset("fast", size=96, steps=6, scales=2, scale_steps=[3, 3], backbone="efficientnet_lite0", snapshot_every=3)
    r = run(*tiny_pair, cfg, backbone=effnet, progress=False)
    assert [row["size"] for row in r.history] == [68, 68, 68, 96, 96, 96]
    assert r.snapshots[3].shape[-1] == 68 and r.snapshots[6].shape[-1] == 96
