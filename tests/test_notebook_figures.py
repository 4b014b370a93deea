"""Notebook 00's snapshot lesson: the change of each snapshot from the run's start."""
import numpy as np
import pytest
import torch

from nst_helpers.core import transfer
from nst_helpers.core.config import preset
from nst_helpers.notebook import figures
from margins import above, below


def test_pick_steps_keeps_the_ends_and_favours_early_steps():
    assert figures.pick_steps([1, 2, 4, 8, 16, 25, 50, 75, 100, 125, 150]) == [1, 2, 8, 25, 50, 150]
    assert figures.pick_steps([3, 1, 2]) == [1, 2, 3]
    picked = figures.pick_steps(range(1, 1001), n=4)
    assert picked == [1, 10, 100, 1000]


@pytest.mark.parametrize("name", ["fast", "baseline"])
def test_a_run_that_barely_moves_changed_nothing_at_any_level(name, effnet, tiny_pair):
    """With a learning rate of 1e-9 the steps move no pixel visibly, so the change from the start
    is ~0 at every snapshot, on every pyramid level: start_at makes the start as the run makes it
    (the photo in the painting's colours for 'fast', the photo for the seed's presets) and enlarges
    it as the run does. A normal run's change is far from 0."""
    content, style = tiny_pair
    cfg = preset(name, size=64, steps=3, scales=3, scale_steps=None, lr=1e-9, snapshot_every=1)
    still = transfer.run(content, style, cfg, backbone=effnet, progress=False)
    assert len({tuple(x.shape) for x in still.snapshots.values()}) == 3   # 32, 45 and 64 px
    below(max(figures.mean_changes(still).values()), 1e-3, f"largest change at lr 1e-9, {name}")
    moved = transfer.run(content, style, cfg.replace(lr=preset(name).lr), backbone=effnet, progress=False)
    above(figures.mean_changes(moved)[3] / max(figures.mean_changes(still).values()), 10, f"change at step 3 / at lr 1e-9, {name}")


def test_the_figure_shows_the_photo_the_start_and_each_picked_snapshot(effnet, tiny_pair):
    content, style = tiny_pair
    result = transfer.run(content, style, preset("fast", size=64, steps=6, snapshot_every=1), backbone=effnet,
                          progress=False)
    fig = figures.changes_from_start(result, steps=[1, 6])
    titles = [ax.get_title() for ax in fig.axes]
    changes = figures.mean_changes(result, [1, 6])
    assert titles[:4] == ["photo", figures.STARTS["content_in_style_colours"], "step 1\n(64 px)", "step 6\n(64 px)"]
    assert titles[6:8] == [f"changed {changes[1]:.3f}", f"changed {changes[6]:.3f}"] and changes[6] > changes[1]
    assert len(fig.axes) == 2 * 4 + 1   # two rows of photo, start and two snapshots, and the colour bar


def test_preset_differences_crops_the_busiest_window_and_maps_the_differences():
    from nst_helpers.notebook.figures import busiest_window, preset_differences
    base = torch.full((1, 3, 64, 64), 0.5)
    base[..., 40:56, 8:24] = (torch.arange(16).view(1, 16) + torch.arange(16).view(16, 1)) % 2  # a checkerboard
    assert busiest_window(base, 16) == (40, 8)
    other = base.clone()
    other[:, 0, :32] += 0.3           # red raised on the top half: mean over RGB 0.1 there, 0 below
    fig = preset_differences({"baseline": base, "exp1": other, "same": base.clone()})
    maps = {ax.get_title(): ax.images[0].get_array() for ax in fig.axes[3:6] if ax.images}
    assert set(maps) == {"differs from baseline by 0.050", "differs from baseline by 0.000"}
    exp1 = maps["differs from baseline by 0.050"]
    assert exp1[:32].mean() == pytest.approx(0.1, abs=1e-6) and exp1[32:].max() == 0
    crop = fig.axes[0].images[0].get_array()
    assert crop.shape[:2] == (16, 16) and set(np.unique(crop)) == {0, 255}   # the checkerboard, unscaled
