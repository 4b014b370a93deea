"""What the notebooks say before anything runs: the settings cell's plan, the images' resizing and
the time a run takes (the same estimate as the command line's and the explorer's); the layer
table's receptive fields, and notebook 00's lesson repeating them."""
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from nst_helpers import notebook
from nst_helpers.runs import duration

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture
def full(monkeypatch):
    monkeypatch.delenv("NST_SMOKE", raising=False)
    monkeypatch.setattr("nst_helpers.core.devices.pick_device", lambda device=None: "cpu")


def picture(path, w, h):
    Image.fromarray(np.full((h, w, 3), 128, np.uint8)).save(path)
    return path


def test_the_time_is_the_duration_table_priced_by_hand(full):
    """Hand-computed from STEP_COST (rate, start-up): the fast recipe's three square levels of 50
    steps (256, 362 and 512 px), and the seed's 5000 steps at 512 px, on EfficientNet-Lite0 and the CPU."""
    s = notebook.settings(backbone="efficientnet_lite0")
    (per_l, start_l), (per_a, start_a) = (duration.STEP_COST[("efficientnet_lite0", "cpu", o)] for o in ("lbfgs", "adam"))
    fast = start_l + (256 ** 2 + 362 ** 2 + 512 ** 2) * 50 / 1e6 * per_l
    seed = start_a + 512 ** 2 * 5000 / 1e6 * per_a
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
    per, start = duration.STEP_COST[("efficientnet_lite0", "cpu", "lbfgs")]
    cost = start + pixels / 1e6 * per
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


def test_the_receptive_fields_are_what_a_vgg19_shaped_stack_sees():
    """Independent of tables.receptive_field's arithmetic: a one-channel stack of VGG19's 3x3
    convolutions (weights 1) and 2x2 poolings (averages, so every input gets a gradient), and the
    width of the input patch that moves the centre unit of each layer."""
    import torch
    from nst_helpers.backbones.layers import VGG19_CFG, VGG19_LAYERS
    from nst_helpers.notebook.tables import LAYER_NOTES, receptive_field
    layers = []
    for v in VGG19_CFG:
        conv = torch.nn.Conv2d(1, 1, 3, padding=1, bias=False)
        torch.nn.init.ones_(conv.weight)
        layers += [torch.nn.AvgPool2d(2)] if v == "M" else [conv, torch.nn.Identity()]   # conv, relu
    names = list(VGG19_LAYERS)
    assert len(layers) == len(names)
    for layer in LAYER_NOTES:
        x = torch.ones(1, 1, 320, 320, requires_grad=True)
        y = torch.nn.Sequential(*layers[: names.index(layer) + 1])(x)
        y[0, 0, y.shape[2] // 2, y.shape[3] // 2].backward()
        row = x.grad[0, 0].abs().sum(0)
        assert int((row > 0).sum()) == receptive_field(layer), layer


def test_notebook_00_says_what_the_layer_table_says():
    import re
    import nbformat
    from nst_helpers.notebook.tables import LAYER_NOTES, receptive_field
    lesson = nbformat.read(ROOT / "notebooks" / "00_baseline.ipynb", as_version=4).cells[0].source
    rows = dict((m[0], (int(m[1]), m[2])) for m in re.findall(r"^\| `(\w+)` \| (\d+) px \| (.+?) \|$", lesson, re.M))
    assert rows == {name: (receptive_field(name), note) for name, note in LAYER_NOTES.items()}


def test_the_balance_table_sets_each_layers_share_beside_its_weights():
    from nst_helpers.core.config import preset
    from nst_helpers.notebook.tables import balance_markdown, balance_summary
    rows = [{"layer": "conv1_1", "own": "a", "chw": 10, "seed_share": 0.2, "size_independent_share": 0.7},
            {"layer": "conv2_1", "own": "b", "chw": 5, "seed_share": 0.8, "size_independent_share": 0.3}]
    cfg = preset("baseline")   # conv1_1 1.0, conv2_1 0.8: 1/1.8 and 0.8/1.8 of these two
    table = balance_markdown(rows, cfg).splitlines()
    assert table[2] == "| `conv1_1` | `a` | 10 | 55.6% | 20.0% | 70.0% |" and table[1].count("---") == 6
    assert balance_markdown(rows).splitlines()[3] == "| `conv2_1` | `b` | 5 | 80.0% | 30.0% |"
    assert balance_summary(rows, cfg).splitlines() == [
        "seed's loss: conv2_1 (b) holds 80.0% of the style term (its weight alone would give it 44.4%)",
        "size-independent loss: conv1_1 (a) holds 70.0% of the style term (its weight alone would give it 55.6%)"]
