"""The calibrated baseline really stylises on the offline backbone: neither a copy nor noise."""
import pytest
import torch
import torch.nn.functional as F

from nst_helpers import preset, run
from nst_helpers.core import losses
from nst_helpers.backbones import resolve_layers
from nst_helpers.core.config import with_fast_recipe
from margins import above, below


def _style_distance(net, image, style, cfg):
    layers = resolve_layers(net, list(cfg.style_layers))
    weights = dict(zip(layers, cfg.style_layers.values()))
    with torch.no_grad():
        grams = {k: losses.gram_matrix(v) for k, v in net(style, layers).items()}
        return losses.style_loss(net(image, layers), grams, weights).item()


def _edges(image):
    """Sobel gradient magnitude of the luminance, (H-2)*(W-2) values."""
    y = (0.299 * image[:, 0] + 0.587 * image[:, 1] + 0.114 * image[:, 2]).unsqueeze(1)
    kx = torch.tensor([[-1.0, 0, 1], [-2, 0, 2], [-1, 0, 1]]).view(1, 1, 3, 3)
    gx, gy = F.conv2d(y, kx), F.conv2d(y, kx.transpose(2, 3))
    return (gx ** 2 + gy ** 2).sqrt().flatten()


def _blurred_corr(a, b):
    """Pearson correlation of two images' edge maps after a 5x5 blur (structure, not texture)."""
    ea, eb = (F.avg_pool2d(_edges(x).view(1, 1, x.shape[-2] - 2, -1), 5, 1).flatten() for x in (a, b))
    return torch.corrcoef(torch.stack([ea, eb]))[0, 1].item()


def test_baseline_weights_stylise_on_efficientnet(effnet):
    from nst_helpers.core.images import load_image
    content = load_image("images/content.jpg", max_size=128)
    style = load_image("images/swirls.jpg", max_size=128)
    cfg = with_fast_recipe(preset("baseline", backbone="efficientnet_lite0"), steps=60, size=128)
    result = run(content, style, cfg, backbone=effnet, progress=False).image
    before = _style_distance(effnet, content, style, cfg)
    after = _style_distance(effnet, result, style, cfg)
    below(after / before, 1 / 5, "style distance, result / photo")        # it took on the style's statistics ...
    above(_blurred_corr(result, content), 0.5, "edge correlation with the photo")   # ... kept the photo's structure ...
    above(_blurred_corr(result, content) - _blurred_corr(style, content), 0.3, "edge correlation, result - style")
    above((result - content).abs().mean(), 0.05, "mean change from the photo")   # ... and is not a copy of it


def test_the_painting_recipe_takes_more_style_than_the_old_fast_preset(effnet):
    """Judged by EfficientNet-Lite2, which neither recipe optimised: the fast preset (colour-matched
    start, pyramid, deeper style layers) moves further towards the painting than the fast preset
    before it (the baseline's weights, one scale, from the photo), and still shows the photo."""
    from nst_helpers.runs import judge
    from nst_helpers.backbones import load_backbone
    from nst_helpers.core.images import load_image
    content = load_image("images/content.jpg", max_size=256)
    style = load_image("images/swirls.jpg", max_size=256)
    old = preset("fast", size=256, steps=60, backbone="efficientnet_lite0", init="content", gram_norm="size_independent", scales=1, tv_weight=0.0,
                 style_weight=1e6, style_layers=dict(conv1_1=1.0, conv2_1=0.8, conv3_1=0.5, conv4_1=0.3, conv5_1=0.1))
    new = preset("fast", size=256, steps=60, backbone="efficientnet_lite0")
    assert new.scales == 2 and new.init == "content_in_style_colours"
    lite2 = load_backbone(judge.judge_backbone_name("efficientnet_lite0"), verbose=False)
    assert lite2.name == "efficientnet_lite2"
    scores = {name: judge.judge(run(content, style, cfg, backbone=effnet, progress=False).image, content, style, lite2)
              for name, cfg in (("old", old), ("new", new))}
    below(scores["new"]["style"] - scores["old"]["style"], -0.1, "judged style, new - old recipe")
    below(scores["new"]["colour"] - scores["old"]["colour"], 0, "judged colour, new - old recipe")
    above(scores["new"]["structure"], 0.30, "judged structure, new recipe")


def test_the_vgg19_recipe_paints_the_photo_judged_by_a_network_it_did_not_optimise():
    """The fast preset on the original VGG19 (bf16, its own pyramid), judged by EfficientNet-Lite2:
    it takes far more of the painting's style than the photo has and keeps the photo's structure."""
    from nst_helpers.runs import judge
    from nst_helpers.backbones import load_backbone
    from nst_helpers.core.images import load_image
    content = load_image("images/content.jpg", max_size=192)
    style = load_image("images/swirls.jpg", max_size=192)
    cfg = preset("fast", size=192, steps=40, backbone="vgg19_original")
    assert cfg.mixed_precision and cfg.optimizer == "lbfgs"
    result = run(content, style, cfg, backbone=load_backbone("vgg19_original", verbose=False), progress=False)
    lite2 = load_backbone("efficientnet_lite2", verbose=False)
    photo, painted = (judge.judge(x, content, style, lite2) for x in (content, result.image))
    assert photo["style"] == pytest.approx(1.0)     # 1 = the photo's, 0 = the painting's
    below(painted["style"], 0.6, "judged style, VGG19 recipe")
    above(painted["structure"], 0.30, "judged structure, VGG19 recipe")
    assert result.stop_reason in ("completed", "early_stop")
