"""The backbones' calibrated style scales (benchmarks/calibrate_style_scale.py picks them;
docs/backbones-and-losses.md has the measurements). Checked here against an independent prediction: under the seed's
loss a layer's term is C*H*W times the size-independent one (losses.py), so at the seed's size,
512 px, the two calibrations must give the baseline about the same content/style balance."""
import pytest
import torch

from nst_helpers import preset
from nst_helpers.core import losses
from nst_helpers.backbones import EfficientNetLite1Features, EfficientNetLite2Features, resolve_layers
from nst_helpers.backbones.vgg import VGG19Features
from nst_helpers.core.config import GRAM_NORMS
from nst_helpers.core.images import load_image, resize_to
from nst_helpers.core.objective import style_scale
from margins import above, below


def weighted_style(net, norm, image, style, cfg) -> float:
    """style_scale(norm) * sum_l w_l * layer term, for `image` against `style` (same size)."""
    layers = resolve_layers(net, list(cfg.style_layers))
    with torch.no_grad():
        feats, targets = net(image, layers), net(style, layers)
    total = sum(w * losses.layer_style_loss(feats[k], losses.gram_matrix(targets[k], norm), norm).item()
                for k, w in zip(layers, cfg.style_layers.values()))
    return style_scale(net, norm) * total


@pytest.fixture(scope="module")
def pair512():
    content = load_image("images/content.jpg", max_size=512)
    return content, resize_to(load_image("images/swirls.jpg", max_size=512), tuple(content.shape[-2:]))


@pytest.mark.parametrize("make", [None, EfficientNetLite1Features, EfficientNetLite2Features],
                         ids=["efficientnet_lite0", "efficientnet_lite1", "efficientnet_lite2"])
def test_both_normalisations_give_the_baseline_the_same_balance_at_512_px(make, effnet, pair512):
    net = effnet if make is None else make()
    assert set(net.style_scales) == set(GRAM_NORMS)   # calibrated for both, nothing borrowed
    cfg = preset("baseline")
    seed = weighted_style(net, "seed", *pair512, cfg)
    size_independent = weighted_style(net, "size_independent", *pair512, cfg)
    above(seed / size_independent, 1 / 5, "seed / size-independent style term, 512 px")
    below(seed / size_independent, 5, "seed / size-independent style term, 512 px")


def test_the_original_vgg19_is_calibrated_for_both_losses_alike(pair512):
    """The original weights see a 0-255 input: their scales (1e-12, 1e-5) are far below torchvision's
    1, and must still give the baseline the same balance under either loss at 512 px."""
    from nst_helpers.backbones.vgg_original import OriginalVGG19Features, load_vgg19_original
    assert OriginalVGG19Features.style_scales == {"seed": 1e-12, "size_independent": 1e-5}
    net, cfg = load_vgg19_original(), preset("baseline")
    seed = weighted_style(net, "seed", *pair512, cfg)
    size_independent = weighted_style(net, "size_independent", *pair512, cfg)
    above(seed / size_independent, 1 / 5, "seed / size-independent style term, VGG19 original")
    below(seed / size_independent, 5, "seed / size-independent style term, VGG19 original")


def test_vgg19_is_the_reference():
    assert VGG19Features.style_scales == {"seed": 1.0, "size_independent": 1.0}


def test_tv_scale_is_the_content_terms_ratio_and_the_objective_applies_it(effnet, pair512):
    """tv_scale = a backbone's content term over Lite0's for the same images (so one TV weight
    smooths alike); measured here independently, at 256 px, for the fast preset's start."""
    from nst_helpers.backbones.vgg_original import load_vgg19_original
    from nst_helpers.core.colour import match_colour
    from nst_helpers.core.objective import StyleObjective
    photo, style = (resize_to(x, (256, 256)) for x in pair512)
    start, net = match_colour(photo, style), load_vgg19_original()

    def content_term(n):
        with torch.no_grad():
            a, b = n(start, [resolve_layers(n, ["conv4_2"])[0]]), n(photo, [resolve_layers(n, ["conv4_2"])[0]])
        return losses.content_loss(*a.values(), *b.values()).item()

    ratio = content_term(net) / content_term(effnet)
    assert net.tv_scale / 3 < ratio < net.tv_scale * 3, ratio
    assert not hasattr(effnet, "tv_scale")   # Lite0 is the reference: 1
    cfg = preset("fast", size=256, backbone="vgg19_original")
    _, parts = StyleObjective(net, cfg, photo, style)(start)
    assert parts["tv"].item() == pytest.approx(net.tv_scale * losses.total_variation(start).item(), rel=1e-5)
