"""What a notebook's settings cell says before anything runs: the plan, the images' resizing and
the time a run takes (the same estimate as the command line's and the explorer's)."""
import numpy as np
import pytest
from PIL import Image

from nst_helpers import notebook
from nst_helpers.runs import duration


@pytest.fixture
def full(monkeypatch):
    monkeypatch.delenv("NST_SMOKE", raising=False)
    monkeypatch.setattr("nst_helpers.core.devices.pick_device", lambda device=None: "cpu")


def picture(path, w, h):
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)
    return path


def test_the_time_is_the_duration_table_priced_by_hand(full):
    """Hand-computed from STEP_COST: the fast recipe's three square levels of 50 steps (256, 362 and
    512 px), and the seed's 5000 steps at 512 px, on EfficientNet-Lite0 and the CPU."""
    s = notebook.settings(backbone="efficientnet_lite0")
    fast = (256 ** 2 + 362 ** 2 + 512 ** 2) * 50 / 1e6 * duration.STEP_COST[("efficientnet_lite0", "cpu", "lbfgs")]
    seed = 512 ** 2 * 5000 / 1e6 * duration.STEP_COST[("efficientnet_lite0", "cpu", "adam")]
    line = s.duration_note()
    assert line == (f"time: about {duration.in_words(fast)} a run here (efficientnet_lite0 on cpu, runs/duration.py's "
                    f"estimate); with recipe = \"seed\": about {duration.in_words(seed)}")
    assert line in s.describe()
    seed_side = notebook.settings(backbone="efficientnet_lite0", recipe="seed").duration_note()
    assert seed_side.startswith(f"time: about {duration.in_words(seed)} a run here") and seed_side.endswith(
        f"with recipe = \"fast\": about {duration.in_words(fast)}")


def test_the_time_follows_the_content_images_shape(full, tmp_path):
    """A 600x300 photo runs at 512x256 (and 256x128, 362x181): half the pixels of a square one."""
    wide = notebook.settings(content=picture(tmp_path / "wide.png", 600, 300), backbone="efficientnet_lite0")
    assert wide.content_hw() == (256, 512)
    pixels = (128 * 256 + 181 * 362 + 256 * 512) * 50
    cost = pixels / 1e6 * duration.STEP_COST[("efficientnet_lite0", "cpu", "lbfgs")]
    assert wide.duration_note().startswith(f"time: about {duration.in_words(cost)} a run here")
    assert "150 steps on a 3-level pyramid (256, 362, 512 px)" in wide.describe()


def test_a_small_image_is_said_to_be_upscaled_as_load_image_does(full, tmp_path):
    from nst_helpers.core.images import load_image
    small = picture(tmp_path / "small.png", 300, 200)
    s = notebook.settings(content=small)
    assert s.resize_notes()[0].startswith("small.png is 300x200 px: upscaled to 512 px on its longest side")
    assert len(s.resize_notes()) == 1 and s.resize_notes()[0] in s.describe()
    assert tuple(load_image(small, max_size=s.config().size).shape[-2:]) == (341, 512)   # what the note says
    assert notebook.settings().resize_notes() == []   # the bundled images are 512 px already
    assert notebook.settings(content=small, size=256).resize_notes() == []   # 300 px shrinks to 256: no note
