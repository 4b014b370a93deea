import json
import math

import pytest

from nst_helpers.core.config import PRESET_TABLE, PRESETS, StyleConfig, preset

LAYERS = ["conv1_1", "conv2_1", "conv3_1", "conv4_1", "conv5_1"]
# The seed's experiment matrix, typed in again from the issue, value by value.
EXPECTED = {
    "baseline": (1, 1e6, [1.0, 0.8, 0.5, 0.3, 0.1]),
    "exp1": (1, 5e5, [1.5, 1.2, 0.5, 0.3, 0.1]),
    "exp2": (0.5, 2e6, [0.54, 0.54, 0.54, 0.54, 0.54]),
    "exp3": (2, 5e5, [1.0, 0.8, 0.25, 0.1, 0.05]),
}


@pytest.mark.parametrize("name", EXPECTED)
def test_preset_values_match_the_seed_table(name):
    cw, sw, lw = EXPECTED[name]
    cfg = preset(name)
    assert cfg.name == name
    assert cfg.content_weight == cw and cfg.style_weight == sw
    assert list(cfg.style_layers) == LAYERS
    assert [cfg.style_layers[k] for k in LAYERS] == lw
    # seed presets keep the seed's optimiser settings exactly
    assert (cfg.optimizer, cfg.lr, cfg.steps, cfg.snapshot_every) == ("adam", 0.003, 5000, 500)
    assert (cfg.lr_schedule, cfg.scales, cfg.mixed_precision) == ("constant", 1, False)


def test_defaults_are_the_seed_baseline():
    d = StyleConfig()
    assert d.to_dict() == preset("baseline").to_dict()
    assert d.content_layer == "conv4_2" and d.init == "content"
    assert set(PRESET_TABLE) == set(EXPECTED) and set(PRESETS) == set(EXPECTED) | {"fast"}


@pytest.mark.parametrize("name", PRESETS)
def test_json_round_trip(name):
    cfg = preset(name, steps=7, snapshot_every=3, seed=5) if name != "fast" else preset(name)
    back = StyleConfig.from_json(cfg.to_json())
    assert back == cfg
    assert json.loads(cfg.to_json())["style_layers"] == cfg.style_layers


@pytest.mark.parametrize("changes, field, words", [
    ({"content_weight": -1}, "content_weight", "negative"),
    ({"style_weight": math.nan}, "style_weight", "finite"),
    ({"lr": math.inf}, "lr", "finite"),
    ({"style_layers": {"conv9_9": 1.0}}, "style_layers", "unknown layer"),
    ({"style_layers": {"conv1_1": -0.5}}, "style_layers", "conv1_1"),
    ({"style_layers": {"conv1_1": math.nan}}, "style_layers", "conv1_1"),
    ({"content_layer": "fc7"}, "content_layer", "unknown layer"),
    ({"steps": 0}, "steps", ">= 1"),
    ({"steps": 2.5}, "steps", "integer"),
    ({"optimizer": "sgd"}, "optimizer", "adam"),
    ({"lr_schedule": "linear"}, "lr_schedule", "cosine"),
    ({"backbone": "resnet"}, "backbone", "efficientnet_lite0"),
    ({"size": 8}, "size", ">= 32"),
    ({"scales": 2, "scale_steps": [1, 2, 3]}, "scale_steps", "one per scale"),
])
def test_invalid_values_name_the_field(changes, field, words):
    with pytest.raises(ValueError) as err:
        StyleConfig(**changes)
    assert f"'{field}'" in str(err.value) and words in str(err.value)


def test_unknown_preset_and_unknown_json_field():
    with pytest.raises(ValueError, match="unknown preset 'exp9'.*baseline"):
        preset("exp9")
    with pytest.raises(ValueError, match="unknown config field.*colour"):
        StyleConfig.from_dict({"colour": "red"})


def test_backbone_own_layer_names_are_accepted():
    cfg = StyleConfig(style_layers={"stem": 1.0, "block4": 0.5}, content_layer="block8")
    assert cfg.style_layers == {"stem": 1.0, "block4": 0.5}


def test_fast_recipe_keeps_the_weights_and_takes_the_optimiser():
    from nst_helpers.core.config import with_fast_recipe
    cfg = with_fast_recipe(preset("exp3"), steps=20, seed=2)
    fast = preset("fast", steps=20)
    assert (cfg.name, cfg.content_weight, cfg.style_weight, cfg.style_layers, cfg.seed) == \
        ("exp3", 2.0, 5e5, preset("exp3").style_layers, 2)
    assert (cfg.optimizer, cfg.scales, cfg.scale_steps, cfg.steps) == (fast.optimizer, fast.scales, fast.scale_steps, 20)
    assert preset("fast").replace(steps=7).steps == 7
    assert sum(preset("fast", steps=7, scales=2, scale_steps=[3, 4]).scale_steps) == 7


def test_the_fast_preset_is_each_backbone_familys_own_recipe():
    """'auto' is VGG19, so preset('fast') is VGG19's recipe: bf16, 100 steps, most at the coarse
    levels; on EfficientNet-Lite the recipe it was tuned with: fp32, 50 steps a level."""
    from nst_helpers.core.config import with_fast_recipe
    vgg = preset("fast")
    assert (vgg.mixed_precision, vgg.scale_steps, vgg.steps) == (True, [40, 25, 15], 80)
    assert preset("fast", backbone="vgg19_original") == preset("fast", backbone="vgg19_original", steps=80)
    lite = preset("fast", backbone="efficientnet_lite0")
    assert (lite.mixed_precision, lite.scale_steps, lite.steps, lite.style_weight) == (False, [50, 50, 50], 150, 1e7)
    assert preset("fast", backbone="efficientnet_lite2").scale_steps == [50, 50, 50]
    on_lite = with_fast_recipe(preset("exp1", backbone="efficientnet_lite0"))
    assert (on_lite.scale_steps, on_lite.mixed_precision, on_lite.style_weight) == ([50, 50, 50], False, 5e5)
    assert with_fast_recipe(preset("exp1")).scale_steps == [40, 25, 15]
