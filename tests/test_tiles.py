"""Big pictures in tiles (core/tiles.py): the tiled loss and gradient are StyleObjective's (autograd
through the whole image) to float rounding, a tiled run ends with the untiled run's image and
resumes bit for bit, the halo is what makes it exact, bad tile sizes are one line, the memory
estimate of a tiled run is smaller, and --tile-size reaches the config.

Tolerances (fp32, measured on this CPU: about 1e-6 of the gradient's largest entry): the loss
and its parts within rtol 1e-5, the gradient within 1e-4 of its largest entry, the images of two
short runs within 1e-5 (pixels in [0, 1])."""
import threading

import pytest
import torch

from nst_helpers import backbones, preset, resume, run
from nst_helpers.backbones import load_backbone
from nst_helpers.backbones.vgg import VGG19Features
from nst_helpers.cli import main
from nst_helpers.cli.args import build_parser, given_to_resume
from nst_helpers.cli.settings import settings
from nst_helpers.core import memory, tiles, transfer
from nst_helpers.core.config import ConfigError, StyleConfig
from nst_helpers.core.images import load_image, resize_to
from nst_helpers.core.objective import StyleObjective
from nst_helpers.runs import checkpoint, folders
from test_bad_input import CONTENT, STYLE, assert_one_line_error, run_cli
from margins import above, below

GRAD_TOL, LOSS_RTOL, IMAGE_TOL = 1e-4, 1e-5, 1e-5
SHALLOW = dict(style_layers={"conv1_1": 1.0, "conv2_1": 0.5, "conv3_1": 0.3}, content_layer="conv3_1")  # halo 12


@pytest.fixture(scope="module")
def vgg():
    return load_backbone("vgg19_original", verbose=False)


@pytest.fixture(scope="module")
def pair():
    """(content, style): the bundled images at 128 x 160 (non-square; 160 is no multiple of 64)."""
    content = resize_to(load_image(CONTENT, max_size=160), (128, 160))
    return content, resize_to(load_image(STYLE, max_size=160), (128, 160))


def start(content):
    """A point that is not the photo, with strokes everywhere (fixed seed)."""
    gen = torch.Generator().manual_seed(0)
    return (content + 0.1 * torch.randn(content.shape, generator=gen)).clamp(0, 1)


def whole(net, cfg, content, style, x):
    """StyleObjective at x, autograd through the whole image: (total, parts, dtotal/dx)."""
    x = x.clone().requires_grad_(True)
    total, parts = StyleObjective(net, cfg, content, style)(x)
    total.backward()
    return total, parts, x.grad


def assert_same(tiled, untiled):
    (t, tp, tg), (u, up, ug) = tiled, untiled
    assert t.item() == pytest.approx(u.item(), rel=LOSS_RTOL)
    assert all(tp[k].item() == pytest.approx(up[k].item(), rel=LOSS_RTOL, abs=1e-12) for k in up)
    gap = (tg - ug).abs().max().item()
    assert gap <= GRAD_TOL * ug.abs().max().item(), f"gradient off by {gap / ug.abs().max().item():.2e} of its max"


def test_the_halo_is_the_receptive_fields_reach_rounded_to_the_stride():
    assert tiles.reach(["conv5_1", "conv1_1"]) == (16, 80) and tiles.reach(["conv4_2"]) == (8, 40)
    assert tiles.reach(["conv3_1"]) == (4, 12) and tiles.reach(["conv1_1"]) == (1, 1)
    # measured: the input pixels one conv5_1 position's value depends on (random weights: none is 0)
    net = VGG19Features()
    x = torch.rand(1, 3, 256, 256, requires_grad=True)
    net(x, ["conv5_1"])["conv5_1"][0, :, 8, 8].sum().backward()
    cols = x.grad.abs().sum((0, 1, 2)).nonzero().flatten()
    stride, first, size = tiles._field("conv5_1")
    assert (cols.min().item(), cols.max().item()) == (8 * stride + first, 8 * stride + first + size - 1) == (58, 213)


@pytest.mark.parametrize("norm", ["seed", "size_independent"])
def test_tiled_loss_and_gradient_are_the_whole_images(norm, vgg, pair):
    cfg = preset("baseline", gram_norm=norm, tv_weight=10.0, tile_size=64)   # conv1_1..conv5_1, conv4_2
    x = start(pair[0])
    tiled = tiles.TiledObjective(vgg, cfg, *pair)
    assert len(tiles.tiles(x.shape[-2:], 64, tiled.grid, tiled.halo)) == 6   # 2 rows of 3, the last 32 px wide
    assert_same(tiled.value_and_grad(x), whole(vgg, cfg, *pair, x))


def test_blended_styles_other_stroke_size_and_adaptive_weights_tile_exactly(vgg, pair):
    content, style = pair
    styles = [resize_to(s, (192, 240)) for s in (style, style.flip(-1).roll(40, -2))]   # stroke size 1.5
    cfg = preset("exp1", **SHALLOW, tile_size=64, stroke_size=1.5, style_blend=[0.7, 0.3], adaptive_weights="initial",
                 tv_weight=10.0)
    x = start(content)
    tiled = tiles.TiledObjective(vgg, cfg, content, styles)
    ref = StyleObjective(vgg, cfg, content, styles)
    assert all(tiled.style_weights[k] == pytest.approx(w, rel=LOSS_RTOL) for k, w in ref.style_weights.items())
    assert_same(tiled.value_and_grad(x), whole(vgg, cfg, content, styles, x))


def test_a_halo_short_of_the_receptive_field_is_not_exact(vgg, pair, monkeypatch):
    cfg = preset("exp1", **SHALLOW, tile_size=64)
    x = start(pair[0])
    monkeypatch.setattr(tiles, "reach", lambda layers: (4, 4))   # 4 px, where conv3_1 reaches 10
    _, _, tg = tiles.TiledObjective(vgg, cfg, *pair).value_and_grad(x)
    ug = whole(vgg, cfg, *pair, x)[2]
    above((tg - ug).abs().max() / ug.abs().max(), 100 * GRAD_TOL, "gradient error with a short halo, relative")


# ------------------------------------------------------------------------------ runs

def run_cfg(optimizer, **changes):
    """Two levels at 113 and 160 px: the coarse one fits in one 128 px tile (runs whole), the
    finest (160 x 125) is cut in two."""
    return preset("exp1", **SHALLOW, size=160, scales=2, scale_steps=[1, 2], steps=3, optimizer=optimizer,
                  lr=0.02 if optimizer == "adam" else 1.0, tv_weight=10.0, snapshot_every=1, **changes)


@pytest.fixture(scope="module")
def photo():
    return load_image(CONTENT, max_size=512)[..., :, :400]   # 512 x 400: not square


@pytest.fixture(scope="module")
def tiled_adam(vgg, photo):
    return run(photo, STYLE, run_cfg("adam", tile_size=128), backbone=vgg, progress=False)


def test_only_levels_larger_than_a_tile_run_in_tiles():
    cfg = preset("exp1", **SHALLOW, tile_size=128)
    assert tiles.in_tiles(cfg, (128, 160))                     # two tiles
    assert not tiles.in_tiles(cfg, (88, 113))                  # fits in one
    assert not tiles.in_tiles(cfg, (128, 131))                 # 3 px over: less than a 4 px grid cell, joins the tile
    assert not tiles.in_tiles(cfg.replace(tile_size=0), (2048, 2048))


@pytest.mark.parametrize("optimizer", ["adam", "lbfgs"])
def test_a_tiled_run_ends_with_the_untiled_runs_image(optimizer, vgg, photo, tiled_adam):
    tiled = tiled_adam if optimizer == "adam" else run(photo, STYLE, run_cfg(optimizer, tile_size=128), backbone=vgg,
                                                        progress=False)
    untiled = run(photo, STYLE, run_cfg(optimizer), backbone=vgg, progress=False)
    assert tiled.image.shape == untiled.image.shape == (1, 3, 160, 125)
    assert (tiled.image - untiled.image).abs().max() <= IMAGE_TOL
    assert [h["total"] for h in tiled.history] == pytest.approx([h["total"] for h in untiled.history], rel=LOSS_RTOL)


def test_a_tiled_run_resumes_bit_for_bit(vgg, photo, tiled_adam, tmp_path):
    stop = threading.Event()
    folder = folders.new_run_dir("exp1", tmp_path)
    part = run(photo, STYLE, run_cfg("adam", tile_size=128), backbone=vgg, progress=False, stop_event=stop,
               callbacks=[lambda step, row, image: step == 2 and stop.set()], callback_every=1,
               checkpoints=checkpoint.Checkpoints(folder))
    assert part.stop_reason == "stopped" and checkpoint.load(folder)["config"]["tile_size"] == 128
    done = resume(folder, backbone=vgg, progress=False)
    assert torch.equal(done.image, tiled_adam.image)


# ------------------------------------------------------------------------------ refusals

@pytest.mark.parametrize("value, words", [
    (100, ["config field 'tile_size'", "multiple of 16 from 64 up", "got 100"]),
    (48, ["config field 'tile_size'", "multiple of 16 from 64 up", "got 48"]),
    (-16, ["config field 'tile_size'", "integer >= 0", "got -16"]),
    (True, ["config field 'tile_size'", "integer >= 0", "got True"]),
])
def test_a_bad_tile_size_is_one_line_naming_the_field(value, words):
    with pytest.raises(ConfigError) as info:
        StyleConfig(tile_size=value)
    assert info.value.field == "tile_size" and "\n" not in str(info.value)
    assert all(w in str(info.value) for w in words), str(info.value)


def test_tiles_are_refused_where_they_could_not_be_exact(effnet):
    with pytest.raises(ConfigError, match="tiles need a VGG19 backbone.*not efficientnet_lite0.*tile_size 0"):
        tiles.check(preset("fast", tile_size=512), effnet)
    with pytest.raises(ConfigError, match="80 is not a multiple of 32 px, the stride of pool5; use e.g. 64"):
        tiles.check(preset("baseline", tile_size=80, style_layers={"pool5": 1.0}), VGG19Features())
    tiles.check(preset("baseline", tile_size=80), VGG19Features())   # conv5_1: a 16 px grid


def test_a_bad_tile_size_on_the_command_line_is_one_line(capsys, monkeypatch):
    code, _, err = run_cli(["--content", CONTENT, "--style", STYLE, "--tile-size", "100"], capsys, monkeypatch)
    assert_one_line_error(code, err, "--tile-size: must be 0 (off) or a multiple of 16 from 64 up", "got 100")


def test_the_tile_size_flag_reaches_the_config_and_is_refused_on_resume():
    args = build_parser().parse_args(["--content", CONTENT, "--style", STYLE, "--tile-size", "512"])
    assert settings(args)[0].tile_size == 512
    assert settings(build_parser().parse_args(["--content", CONTENT, "--style", STYLE]))[0].tile_size == 0
    assert given_to_resume(["--resume", "x", "--tile-size", "512"]) == ["--tile-size"]
    assert "--tile-size PX" in build_parser().format_help()


def test_the_command_line_prints_the_estimate_before_a_tiled_run(capsys, monkeypatch, tmp_path):
    seen = {}

    def stop(content, style, cfg, **kw):   # the run itself is not this test's
        seen["cfg"] = cfg
        raise ValueError("stopped before the run")
    monkeypatch.setattr(transfer, "run", stop)
    monkeypatch.setattr(backbones, "load_backbone", lambda *a, **k: None)
    code = main(["--content", CONTENT, "--style", STYLE, "--size", "1024", "--tile-size", "512",
                 "--out", str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2 and err == "error: stopped before the run\n" and seen["cfg"].tile_size == 512
    assert "[nst] memory: 1024 px in tiles of 512 px (+80 halo): about " in out and "; untiled about " in out


# ------------------------------------------------------------------------------ memory

def test_a_tiled_runs_estimate_is_smaller_and_grows_with_the_tile():
    cfg = preset("fast", size=2048)
    need = {t: memory.plan_bytes(cfg.replace(tile_size=t), "vgg19", 0.75, mixed=True) for t in (256, 512, 1024, 0)}
    assert need[256] < need[512] < need[1024] < need[0]
    one_tile = cfg.replace(size=512, tile_size=512)   # a run that fits in one tile costs what an untiled one does
    assert memory.plan_bytes(one_tile, "vgg19") == memory.plan_bytes(one_tile.replace(tile_size=0), "vgg19")
    line = memory.in_words(cfg.replace(tile_size=512), "vgg19", torch.zeros(1, 3, 1536, 2048), "cpu")
    assert line.startswith("2048 px in tiles of 512 px (+80 halo): about ") and "; untiled about " in line


def test_a_run_too_big_for_memory_is_told_the_tile_size_that_fits(monkeypatch):
    monkeypatch.setattr(memory, "free_bytes", lambda dev: (8e9, "this machine"))
    cfg = preset("fast", size=2048)
    fix = r"8.0 GB free; use --size \d+ or less, or --tile-size \d+$"
    with pytest.raises(memory.NotEnoughMemory, match=fix) as info:
        memory.check_memory(cfg, "cpu", "vgg19")
    tile = int(str(info.value).rsplit(" ", 1)[1])
    memory.check_memory(cfg.replace(tile_size=tile), "cpu", "vgg19")   # accepted
    with pytest.raises(memory.NotEnoughMemory, match=r"use size=\d+ or less$"):   # no tiles on Lite
        memory.check_memory(cfg, "cpu", "efficientnet_lite0", flag="size=")
