"""The controls of issue 16 that have landed, each by its defining property: luminance-only
transfer keeps the photo's chroma, colour matching gives the style the photo's colour mean and
covariance (or its histograms), stroke size 2 doubles the style image, init "gray" starts at
mid-gray; each is a config field with a flag, recorded in config.json, and resumes bit for bit."""
import json

import pytest
import torch

from nst_helpers import preset, run
from nst_helpers.cli import main
from nst_helpers.core import preserve
from nst_helpers.core.start import initial_image
from nst_helpers.core.objective import StyleObjective
from nst_helpers.runs import checkpoint, folders
from test_bad_input import assert_one_line_error
from test_faults_storage import TINY, interrupted_folder
from margins import above, below


def lite(**changes):
    return preset("fast", **{"size": 64, "steps": 6, "backbone": "efficientnet_lite0", **changes})


def smooth(h, w, seed):
    """A (1, 3, h, w) image in [0.2, 0.8]: blurred noise, so that no colour operation clamps it."""
    g = torch.Generator().manual_seed(seed)
    x = torch.nn.functional.avg_pool2d(torch.rand(1, 3, h + 6, w + 6, generator=g), 7, stride=1)
    return 0.2 + 0.6 * (x - x.min()) / (x.max() - x.min())


def test_yiq_round_trips():
    x = smooth(16, 24, 1)
    assert torch.allclose(preserve.to_rgb(preserve.to_yiq(x)), x, atol=1e-6)
    y = preserve.luminance(x)   # the luminance as grey: three equal channels, 0.299 R + 0.587 G + 0.114 B
    assert torch.allclose(y[0, 0], 0.299 * x[0, 0] + 0.587 * x[0, 1] + 0.114 * x[0, 2], atol=1e-6)
    assert torch.equal(y[:, 0], y[:, 1]) and torch.equal(y[:, 1], y[:, 2])


def test_luminance_only_transfer_keeps_the_photos_chroma(tiny_pair, effnet):
    content, style = tiny_pair
    result = run(content, style, lite(preserve_colour="luminance"), backbone=effnet, progress=False)
    inside = ((result.image > 0.002) & (result.image < 0.998)).all(1)   # where clamping left the colour alone
    chroma, photo = preserve.to_yiq(result.image)[0, 1:], preserve.to_yiq(content)[0, 1:]
    above(inside.float().mean(), 0.5, "share of unclamped pixels")
    below((chroma - photo).abs()[:, inside[0]].max(), 1e-4, "chroma change where unclamped")
    # and the luminance did change: the painting's strokes are in it
    y_change = (preserve.to_yiq(result.image)[0, 0] - preserve.to_yiq(content)[0, 0]).abs().mean()
    above(y_change, 0.01, "luminance change")   # measured 0.021


def test_colour_matching_gives_the_style_the_photos_mean_and_covariance():
    content, style = smooth(40, 56, 2), smooth(48, 48, 3) * torch.tensor([1.0, 0.6, 0.3]).view(1, 3, 1, 1)
    _, matched = preserve.prepare("match", content, style)
    c, m = content.reshape(3, -1).double(), matched.reshape(3, -1).double()
    assert torch.allclose(m.mean(1), c.mean(1), atol=1e-4) and torch.allclose(torch.cov(m), torch.cov(c), atol=1e-4)


def test_histogram_matching_gives_the_style_the_photos_values():
    content, style = smooth(32, 32, 4), smooth(32, 32, 5) ** 3
    _, matched = preserve.prepare("histogram", content, style)
    for ch in range(3):   # the same pixel count: exactly the photo's values, in the style's order
        assert torch.equal(matched[0, ch].flatten().sort().values, content[0, ch].flatten().sort().values)
        assert torch.equal(matched[0, ch].flatten().argsort(), style[0, ch].flatten().argsort())


class Recorder(torch.nn.Module):
    """The backbone, recording the shape of every image it is given."""

    def __init__(self, net):
        super().__init__()
        self.inner, self.shapes = net, []
        for name in ("name", "layer_names", "layer_map", "style_scale", "style_scales", "min_size", "tv_scale"):
            if hasattr(net, name):
                setattr(self, name, getattr(net, name))

    def forward(self, image, layers):
        self.shapes.append(tuple(image.shape[-2:]))
        return self.inner(image, layers)


@pytest.mark.parametrize("stroke, side", [(1.0, 64), (2.0, 128), (0.75, 48)])
def test_stroke_size_scales_the_style_image(stroke, side, tiny_pair, effnet):
    net = Recorder(effnet)
    run(*tiny_pair, lite(steps=1, stroke_size=stroke), backbone=net, progress=False)
    assert net.shapes[0] == (64, 64) and net.shapes[1] == (side, side)   # the content's targets, then the style's


def test_a_bigger_style_image_keeps_the_seed_losss_scale(tiny_pair, effnet):
    """The seed's Gram sums over positions: the style tiled 2 x 2 (the same statistics, four times
    the area) gives about the same targets once brought to the content's area, not four times them."""
    content, style = tiny_pair
    cfg = lite(gram_norm="seed")
    one = StyleObjective(effnet, cfg, content, style)
    tiled = StyleObjective(effnet, cfg, content, style.repeat(1, 1, 2, 2))
    for layer in one.style_grams:
        ratio = tiled.style_grams[layer].norm() / one.style_grams[layer].norm()
        above(ratio, 0.7, f"tiled / single style Gram norm, {layer}")    # measured 0.84-1.04; four
        below(ratio, 1.4, f"tiled / single style Gram norm, {layer}")    # times the area would give ~4


def test_seed_changes_a_noise_start_from_the_command_line(tmp_path, capsys):
    finals = []
    for seed in (0, 0, 5):
        out = tmp_path / str(len(finals))
        assert main([*TINY, "--steps", "2", "--init", "noise", "--seed", str(seed), "--out", str(out)]) == 0
        finals.append(torch.load(next(out.glob("fast/*/final.pt"))))
    assert torch.equal(finals[0], finals[1]) and not torch.equal(finals[0], finals[2])
    capsys.readouterr()


def test_gray_init_starts_at_mid_gray(tiny_pair):
    start = initial_image(lite(init="gray"), *tiny_pair)
    assert start.shape == tiny_pair[0].shape and torch.equal(start, torch.full_like(start, 0.5))


def test_the_controls_are_flags_recorded_in_config_json(tmp_path, capsys):
    code = main([*TINY, "--steps", "2", "--preserve-colour", "match", "--stroke-size", "1.5", "--init", "gray",
                 "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    cfg = json.loads(next(tmp_path.glob("fast/*/config.json")).read_text(encoding="utf-8"))["config"]
    assert (cfg["preserve_colour"], cfg["stroke_size"], cfg["init"]) == ("match", 1.5, "gray")


def test_a_stroke_too_small_for_the_backbone_is_one_line(tmp_path, capsys):
    code = main([*TINY, "--stroke-size", "0.3", "--out", str(tmp_path)])
    assert_one_line_error(code, capsys.readouterr().err, "--stroke-size: 0.3 makes the style image 19x19 px",
                          "below the 32 px efficientnet_lite0 needs", "use a larger stroke size")
    assert not list(tmp_path.glob("fast/*"))   # refused before its first checkpoint: no folder left


def test_luminance_transfer_interrupted_and_resumed_is_bit_for_bit(tmp_path, tiny_pair, effnet):
    whole = run(*tiny_pair, preset("fast", size=64, steps=8, snapshot_every=2, backbone="efficientnet_lite0",
                                   preserve_colour="luminance", stroke_size=1.5), backbone=effnet, progress=False)
    folder, _ = interrupted_folder(tmp_path, tiny_pair, effnet, preserve_colour="luminance", stroke_size=1.5)
    resumed = checkpoint.resume(folder, backbone=effnet, progress=False)
    assert torch.equal(resumed.image, whole.image) and folders.is_complete(folder)
    assert sorted(resumed.snapshots) == sorted(whole.snapshots)
    assert all(torch.equal(resumed.snapshots[k], whole.snapshots[k]) for k in whole.snapshots)


@pytest.mark.parametrize("weights", [{"conv1_1": 1.0, "conv3_1": 1.0, "conv5_1": 1.0},
                                     {"conv1_1": 0.2, "conv2_1": 0.5, "conv4_1": 1.0}])
def test_adaptive_weights_give_each_layer_its_weights_share_at_the_photo(weights, tiny_pair, effnet):
    content, style = tiny_pair
    plain = StyleObjective(effnet, lite(style_layers=weights), content, style)
    adapted = StyleObjective(effnet, lite(style_layers=weights, adaptive_weights="initial"), content, style)
    terms = plain.layer_terms(content)
    above(max(terms.values()) / min(terms.values()), 3, "largest / smallest layer term")   # the layers' own scales differ a lot
    shares = {k: w * terms[k] for k, w in adapted.style_weights.items()}
    total = sum(shares.values())
    for k, w in plain.style_weights.items():   # each layer's term at the photo: its weight's share
        assert shares[k] / total == pytest.approx(w / sum(plain.style_weights.values()), rel=1e-6)
    assert total == pytest.approx(sum(w * terms[k] for k, w in plain.style_weights.items()), rel=1e-6)


def test_adaptive_weights_start_where_the_plain_run_starts(tiny_pair, effnet):
    cfg = preset("baseline", size=64, steps=2, backbone="efficientnet_lite0")   # starts from the photo
    plain = run(*tiny_pair, cfg, backbone=effnet, progress=False)
    adapted = run(*tiny_pair, cfg.replace(adaptive_weights="initial"), backbone=effnet, progress=False)
    assert adapted.history[0]["style"] == pytest.approx(plain.history[0]["style"], rel=1e-5)
    assert adapted.history[1]["total"] != plain.history[1]["total"]   # then the balance differs


# ------------------------------------------------------------------------------ several styles

@pytest.fixture(scope="module")
def second_style():
    return smooth(64, 48, 7) * torch.tensor([0.9, 0.5, 0.2]).view(1, 3, 1, 1)


def test_blend_weights_1_0_are_the_first_style_alone(tiny_pair, second_style, effnet):
    content, style = tiny_pair
    alone = run(content, style, lite(), backbone=effnet, progress=False)
    blended = run(content, [style, second_style], lite(style_blend=[1.0, 0.0]), backbone=effnet, progress=False)
    assert torch.equal(blended.image, alone.image)
    cfg = lite(init="content")   # (the fast start takes the first style's colours)
    second = run(content, second_style, cfg, backbone=effnet, progress=False)
    only_second = run(content, [style, second_style], cfg.replace(style_blend=[0.0, 2.0]), backbone=effnet,
                      progress=False)
    assert torch.equal(only_second.image, second.image)


def test_blending_blends_the_gram_targets_not_the_images(tiny_pair, second_style, effnet):
    content, style = tiny_pair
    cfg = lite(style_blend=[0.7, 0.3])
    both = StyleObjective(effnet, cfg, content, [style, second_style])
    one, two = (StyleObjective(effnet, lite(), content, s) for s in (style, second_style))
    for k, g in both.style_grams.items():
        assert torch.allclose(g, 0.7 * one.style_grams[k] + 0.3 * two.style_grams[k], rtol=1e-5, atol=1e-9)


def test_several_styles_resume_bit_for_bit(tmp_path, tiny_pair, second_style, effnet):
    content, style = tiny_pair
    cfg = preset("fast", size=64, steps=6, snapshot_every=2, backbone="efficientnet_lite0", style_blend=[0.6, 0.4])
    whole = run(content, [style, second_style], cfg, backbone=effnet, progress=False)
    stop = type("Stop", (), {"now": False, "is_set": lambda self: self.now})()
    run(content, [style, second_style], cfg, backbone=effnet, progress=False, stop_event=stop, callback_every=1,
        callbacks=[lambda step, row, image: setattr(stop, "now", step == 3)], checkpoints=checkpoint.Checkpoints(tmp_path))
    resumed = checkpoint.resume(tmp_path, backbone=effnet, progress=False)
    assert torch.equal(resumed.image, whole.image) and len(resumed.styles) == 2


def test_blend_weights_must_match_the_styles(tiny_pair, second_style, effnet, tmp_path, capsys):
    content, style = tiny_pair
    with pytest.raises(ValueError, match="gives 3 weight"):
        run(content, [style, second_style], lite(style_blend=[1.0, 1.0, 1.0]), backbone=effnet, progress=False)
    code = main([*TINY, "--style-blend", "1", "2", "--out", str(tmp_path)])
    assert_one_line_error(code, capsys.readouterr().err, "--style-blend gives 2 weight(s) for 1 style image(s)",
                          "one weight per --style image")


# ------------------------------------------------------------------------------ notebook 06's helpers

def test_the_notebooks_layer_shares_with_adaptive_weights_are_the_weights_shares(tiny_pair, effnet):
    from nst_helpers.notebook import controls
    weights = {"conv1_1": 1.0, "conv2_1": 0.8, "conv3_1": 0.5, "conv4_1": 0.3, "conv5_1": 0.1}
    table = controls.layer_shares(effnet, lite(style_layers=weights), *tiny_pair).splitlines()
    rows = {line.split("|")[1].strip(): [float(v) for v in line.strip("| ").split("|")[1:]] for line in table[2:]}
    expected = [round(w / sum(weights.values()), 2) for w in weights.values()]
    assert rows["initial"] == pytest.approx(expected, abs=0.011) and rows["off"] != rows["initial"]
    assert sum(rows["off"]) == pytest.approx(1.0, abs=0.03)


def test_the_made_painting_and_the_controls_table():
    from nst_helpers.notebook import controls
    stripes = controls.stripes(64, period=16)
    assert stripes.shape == (1, 3, 64, 64) and 0.3 < (stripes[0, 1] < 0.5).float().mean() < 0.7   # half red
    table = controls.controls_table()
    for field in ("preserve_colour", "stroke_size", "style_blend", "init", "adaptive_weights", "pooling", "masks"):
        assert field in table
    assert "luminance | match | histogram" in table


# ------------------------------------------------------------------------------ pooling, metrics per control

def test_avg_pooling_is_vgg19s_pooling_layers_and_a_mismatched_net_is_refused(tiny_pair, tmp_path, capsys):
    from nst_helpers.backbones import vgg
    avg, mx = vgg.VGG19Features(None, pooling="avg"), vgg.VGG19Features(None, pooling="max")
    assert [type(m).__name__ for m in avg.features if "Pool" in type(m).__name__] == ["AvgPool2d"] * 5
    assert (avg.pooling, mx.pooling) == ("avg", "max")
    cfg = preset("baseline", size=64, steps=1, backbone="vgg19", pooling="avg")
    with pytest.raises(ValueError, match="is 'avg' but the given backbone pools with 'max'.*pooling='avg'"):
        run(*tiny_pair, cfg, backbone=mx, progress=False)
    assert run(*tiny_pair, cfg, backbone=avg, progress=False).history   # the matching one runs
    code = main([*TINY, "--steps", "1", "--pooling", "avg", "--out", str(tmp_path)])
    assert code == 0, capsys.readouterr().err
    meta = json.loads(next(tmp_path.glob("fast/*/config.json")).read_text(encoding="utf-8"))
    assert meta["config"]["pooling"] == "avg"


def test_the_metrics_table_measures_every_run_with_one_network(tiny_pair, effnet):
    from nst_helpers.notebook import controls
    from nst_helpers.runs import metrics
    content, style = tiny_pair
    runs = {"plain": run(content, style, lite(steps=2), backbone=effnet, progress=False),
            "luminance": run(content, style, lite(steps=2, preserve_colour="luminance"), backbone=effnet, progress=False)}
    rows = controls.measure(runs, effnet, style=style)
    assert list(rows) == ["plain", "luminance"]
    want = metrics.measure(runs["luminance"].image, content, style, effnet)["ssim"]
    assert rows["luminance"]["ssim"] == pytest.approx(want, rel=1e-6)


def test_what_each_control_did_says_no_where_a_control_did_the_opposite():
    """The verdicts read the measured rows: flipping one measurement flips its line, and only it."""
    from nst_helpers.notebook import controls
    labels = ["off", "luminance", "match", "histogram", "stroke 0.5", "stroke 2", "first painting", "0.5 / 0.5", "second",
              "content", "gray", "noise", "fast's own", "background only", "everywhere", "avg pooling", "max pooling"]
    base = dict(colour_distance=0.04, hf_energy=0.003, gram_distance=1.0, tv=0.1, ssim=0.7)
    rows = {k: dict(base) for k in labels}
    rows["luminance"]["colour_distance"] = rows["match"]["colour_distance"] = rows["histogram"]["colour_distance"] = 0.07
    rows["stroke 2"]["hf_energy"], rows["avg pooling"]["hf_energy"] = 0.002, 0.002
    rows["0.5 / 0.5"]["gram_distance"], rows["second"]["gram_distance"], rows["noise"]["tv"] = 1.5, 2.5, 0.3
    rows["content"]["ssim"] = rows["background only"]["ssim"] = 0.9
    photo = torch.rand(1, 3, 8, 8)
    results = {"off": type("R", (), {"image": photo.flip(-1)})(), "luminance": type("R", (), {"image": photo})()}
    lines = controls.what_each_did(rows, results, photo).splitlines()
    assert len(lines) == len(controls.PROPERTIES) and all(line.startswith("yes") for line in lines), lines
    rows["avg pooling"]["hf_energy"] = 0.004   # smoother with max pooling: that line says no
    assert [line[:3] for line in controls.what_each_did(rows, results, photo).splitlines()] == ["yes"] * 7 + ["NO "]


def test_the_other_vgg19_weights_are_offered_only_where_they_are(monkeypatch):
    from nst_helpers.backbones import vgg
    from nst_helpers.notebook import controls
    original, torchvisions = (type("Net", (), {"name": n})() for n in ("vgg19_original", "vgg19"))
    monkeypatch.setattr(vgg, "cached_weights_path", lambda: None)
    runs, note = controls.other_weights(original)
    assert runs == {} and "not on this machine" in note
    monkeypatch.setattr(vgg, "cached_weights_path", lambda: "/somewhere/vgg19-dcbb9e9d.pth")
    assert controls.other_weights(original) == ({"torchvision's weights": {"backbone": "vgg19"}}, "")
    assert controls.other_weights(torchvisions)[0] == {"original weights": {"backbone": "vgg19_original"}}


def test_the_judge_table_gives_the_quality_benchmarks_numbers(tiny_pair, effnet):
    from nst_helpers.backbones import load_backbone
    from nst_helpers.notebook import controls
    from nst_helpers.runs import judge
    content, style = tiny_pair
    result = run(content, style, lite(steps=2), backbone=effnet, progress=False)
    table = controls.judge_table({"plain": result}, style, "efficientnet_lite0").splitlines()
    want = judge.judge(result.image, content, style, load_backbone("efficientnet_lite2", verbose=False))
    assert table[2] == "| plain | " + " | ".join(f"{want[k]:.3f}" for k in ("style", "colour", "structure", "noise")) + " |"


def test_a_run_shown_in_two_sections_is_made_once_and_shown_once(monkeypatch, effnet):
    """Notebook 06 made the run without a control seven times (one per section) and listed it seven
    times: the same config on the same files runs once, and its labels share one table row."""
    from nst_helpers import notebook
    from nst_helpers.notebook import controls
    calls = []
    monkeypatch.setattr(controls, "run", lambda *a, **k: calls.append(a[2]) or object())
    monkeypatch.setattr(controls, "_DONE", {})
    s = notebook.settings(backbone="efficientnet_lite0", size=64, steps=2)
    first = controls.variants(s, effnet, {"off": {}, "stroke 2": {"stroke_size": 2.0}})
    second = controls.variants(s, effnet, {"everywhere": {}})
    assert len(calls) == 2 and second["everywhere"] is first["off"] is not first["stroke 2"]
    every = {**first, **second}
    rows = {label: {"ssim": 0.5} for label in every}
    assert list(controls.distinct(rows, every)) == ["without a control (off, everywhere)", "stroke 2"]
