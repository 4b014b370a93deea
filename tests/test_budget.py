"""budget: a run too big for memory is refused before it starts, a long run says how long it
will take, and a seed run stopped after a few steps says its style needs the full budget."""
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from nst_helpers.core import memory
from nst_helpers import notebook
from nst_helpers.core import transfer
from nst_helpers.core.memory import NotEnoughMemory, check_memory, estimate_bytes
from nst_helpers.runs.duration import DurationEstimate, early_end_note
from nst_helpers.core.config import preset, with_fast_recipe

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = str(ROOT / "images" / "content.jpg"), str(ROOT / "images" / "swirls.jpg")
GB = 1e9


@pytest.fixture
def free_16gb(monkeypatch):
    monkeypatch.setattr(memory, "free_bytes", lambda dev: (16 * GB, "this machine"))


# ------------------------------------------------------------------------------ memory

def test_a_20000_px_request_fails_naming_the_estimate_and_a_size_that_fits(free_16gb):
    cfg = preset("baseline", size=20000)
    with pytest.raises(NotEnoughMemory) as info:
        check_memory(cfg, "cpu", "vgg19")
    assert isinstance(info.value, MemoryError) and isinstance(info.value, ValueError)  # the CLI's one-line path
    need = estimate_bytes(cfg, "vgg19", 20000 * 20000)
    assert need > 1000 * GB   # VGG19 at 400 Mpx: terabytes
    message = str(info.value)
    assert message.startswith(f"a 20000 px run on vgg19 needs about {need / GB:.0f} GB of memory, "
                              "this machine has 16 GB free; use --size ")
    fits = int(re.search(r"use --size (\d+) or less$", message).group(1))
    assert fits % 64 == 0 and 512 <= fits < 20000
    at = lambda s: estimate_bytes(cfg.replace(size=s), "vgg19", s * s)  # noqa: E731
    assert at(fits) <= memory.HEADROOM * 16 * GB < at(fits + 64)   # the largest multiple of 64 that fits
    check_memory(cfg.replace(size=fits), "cpu", "vgg19")              # and it is accepted


@pytest.mark.parametrize("free_gb", [16, 4])
def test_normal_requests_pass_on_a_16_gb_and_a_4_gb_machine(monkeypatch, free_gb):
    """The presets at 512 px fit a small machine: their plans are well under the headroom, and
    check_memory accepts them (returns None); on 0.3 GB the same request is refused."""
    monkeypatch.setattr(memory, "free_bytes", lambda dev: (free_gb * GB, "this machine"))
    for name in ("baseline", "fast"):
        for backbone in ("vgg19", "efficientnet_lite0", "auto"):
            dev, resolved, ratio, mixed = memory._resolve(preset(name), "cpu", backbone, CONTENT)
            assert memory.plan_bytes(preset(name), resolved, ratio, mixed) <= memory.HEADROOM * free_gb * GB
            assert check_memory(preset(name), "cpu", backbone, CONTENT) is None
    monkeypatch.setattr(memory, "free_bytes", lambda dev: (0.3 * GB, "this machine"))
    with pytest.raises(NotEnoughMemory):
        check_memory(preset("baseline"), "cpu", "vgg19", CONTENT)


def test_free_memory_is_read_from_proc_meminfo_without_psutil(monkeypatch, tmp_path):
    """Where psutil is missing, MemAvailable (kB) from /proc/meminfo; unreadable: None (no check)."""
    import builtins
    real_import, real_open = builtins.__import__, builtins.open
    fake = tmp_path / "meminfo"
    fake.write_text("MemTotal:       24000000 kB\nMemFree:         1000000 kB\nMemAvailable:   12345678 kB\n")
    monkeypatch.setattr(builtins, "__import__", lambda name, *a, **k: (_ for _ in ()).throw(ImportError(name))
                        if name == "psutil" else real_import(name, *a, **k))
    monkeypatch.setattr(builtins, "open", lambda path, *a, **k: real_open(fake if path == "/proc/meminfo" else path, *a, **k))
    assert memory.free_bytes(torch.device("cpu")) == (12345678 * 1024.0, "this machine")
    fake.write_text("nothing here\n")
    assert memory.free_bytes(torch.device("cpu")) == (None, "this machine")


def test_a_machine_too_small_for_any_run_says_so(monkeypatch):
    monkeypatch.setattr(memory, "free_bytes", lambda dev: (0.1 * GB, "this machine"))
    with pytest.raises(NotEnoughMemory, match="100 MB free; close other programs or use a machine with more memory"):
        check_memory(preset("baseline"), "cpu", "vgg19")


def test_a_gpu_is_checked_against_its_own_free_memory(monkeypatch):
    monkeypatch.setattr(torch.cuda, "mem_get_info", lambda dev=None: (2 * GB, 80 * GB))
    with pytest.raises(NotEnoughMemory, match="cuda:0 has 2.0 GB free; use --size "):
        check_memory(preset("baseline", size=4096), torch.device("cuda", 0), "vgg19")
    check_memory(preset("fast", size=256), torch.device("cuda", 0), "efficientnet_lite0")


def test_the_estimate_is_linear_in_pixels_with_the_measured_slopes():
    cfg, p = preset("baseline"), 512 * 512
    est = [estimate_bytes(cfg, "efficientnet_lite0", k * p) for k in (1, 2, 3)]
    assert est[2] - est[1] == pytest.approx(est[1] - est[0])
    weights, (a, b), *_ = memory.MEMORY_MIB["efficientnet_lite0"]
    snapshots = cfg.steps // cfg.snapshot_every * memory.VECTOR_BYTES
    assert est[0] == pytest.approx((weights + a) * 2**20 + p * (b * 2**20 / 1e6 + snapshots))
    # the heavier backbone, L-BFGS's history and fp32 each cost more per pixel
    assert estimate_bytes(cfg, "vgg19", p) > est[0]
    lbfgs = cfg.replace(optimizer="lbfgs", lr=1.0)
    history = 2 * memory.MEASURED_HISTORY * memory.VECTOR_BYTES * p   # its 20 pairs, at least
    assert estimate_bytes(lbfgs, "efficientnet_lite0", p) - est[0] > history
    assert estimate_bytes(cfg, "efficientnet_lite0", p, mixed=True) < est[0]


def test_the_models_growth_matches_a_real_measurement():
    """Two real runs (128 and 384 px, fresh processes, peak RSS): the memory they add from one
    size to the other is within a generous factor of what the model says."""
    measured = [_measure("efficientnet_lite0", s) for s in (128, 384)]
    cfg = preset("baseline", steps=3, snapshot_every=3)
    model = [estimate_bytes(cfg, "efficientnet_lite0", s * s) / 2**20 for s in (128, 384)]
    ratio = (measured[1]["run_mib"] - measured[0]["run_mib"]) / (model[1] - model[0])
    assert 0.5 < ratio < 2, (measured, model)


def _measure(backbone, size):
    import json
    p = subprocess.run([sys.executable, str(ROOT / "benchmarks" / "memory.py"), "--one", backbone, str(size), "0", "adam", "3"],
                       capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    return json.loads(p.stdout.strip().splitlines()[-1])


def test_transfer_run_refuses_before_loading_the_images(monkeypatch, effnet, tiny_pair):
    monkeypatch.setattr(memory, "free_bytes", lambda dev: (1 * GB, "this machine"))
    monkeypatch.setattr(transfer, "as_image", lambda *a: pytest.fail("images loaded before the memory check"))
    with pytest.raises(NotEnoughMemory, match=r"a 8192 px run on efficientnet_lite0 .*; use size=\d+ or less"):
        transfer.run(*tiny_pair, preset("fast", size=8192), backbone=effnet, progress=False)


def test_the_aspect_comes_from_the_header_or_the_shape(tmp_path):
    from PIL import Image
    Image.new("RGB", (300, 100)).save(tmp_path / "wide.png")
    assert memory.aspect(tmp_path / "wide.png") == pytest.approx(1 / 3)
    assert memory.aspect(torch.zeros(1, 3, 50, 200)) == 0.25
    assert memory.aspect(Image.new("RGB", (40, 80))) == 0.5
    assert memory.aspect(tmp_path / "missing.png") == 1.0   # square: the most pixels a size allows


# ------------------------------------------------------------------------------ how long


def _rows(est, sizes, elapsed):
    for step, (size, t) in enumerate(zip(sizes, elapsed), start=1):
        est(step, {"step": step, "elapsed": t, "size": size, "total": 1.0})


def test_a_long_seed_run_prints_the_hand_computed_estimate_once():
    lines = []
    est = DurationEstimate(preset("baseline"), lines.append)
    # step 1 is the warm-up (1 s); then 0.1 s a step
    _rows(est, [512] * 10, [1.0 + 0.1 * k for k in range(10)])
    # at step 4: 1.3 s so far + 4996 steps x 0.1 s = 500.9 s
    assert est.seconds == pytest.approx(500.9)
    assert lines == ["[nst] about 8 min for 5000 steps (0.10 s a step here); for a preview in seconds use --preset fast"]


def test_a_pyramid_prices_each_level_by_its_pixels():
    lines = []
    cfg = preset("fast", size=1024, steps=1500, backbone="efficientnet_lite0")   # levels 512, 724, 1024 px; 500 steps each
    assert cfg.scale_steps == [500, 500, 500]
    est = DurationEstimate(cfg, lines.append)
    _rows(est, [512] * 5, [2.0, 2.2, 2.4, 2.6, 2.8])
    rest = 496 + 500 * (724 / 512) ** 2 + 500 * (1024 / 512) ** 2
    assert est.seconds == pytest.approx(2.6 + 0.2 * rest)
    per_full = 0.2 * (1024 / 512) ** 2
    assert lines == [f"[nst] about {est.seconds / 60:.0f} min for 1500 steps ({per_full:.2f} s a step at 1024 px here)"]


def test_a_new_level_restarts_the_measurement():
    est = DurationEstimate(preset("fast", size=1024, steps=1500, backbone="efficientnet_lite0"), [].append)
    _rows(est, [362, 362, 512, 512, 512], [1.0, 1.1, 2.0, 2.1, 2.2])
    assert est.seconds is None   # only two steps timed at 512 px so far


def test_nothing_is_printed_below_the_threshold():
    lines = []
    est = DurationEstimate(preset("fast", size=256, scales=1, backbone="efficientnet_lite0"), lines.append)   # 150 steps at 256 px
    _rows(est, [256] * 6, [0.5 + 0.05 * k for k in range(6)])
    assert est.seconds == pytest.approx(0.65 + 0.05 * 146) and lines == []


def test_a_real_run_feeds_the_estimate(effnet, tiny_pair):
    lines = []
    cfg = preset("baseline", size=64, steps=8, snapshot_every=8)
    transfer.run(*tiny_pair, cfg, callbacks=[DurationEstimate(cfg, lines.append, threshold_s=0)], callback_every=1,
                 backbone=effnet, progress=False)
    assert len(lines) == 1 and re.fullmatch(r"\[nst\] about \d+ s for 8 steps \([\d.]+ s a step here\); "
                                            r"for a preview in seconds use --preset fast", lines[0]), lines


# ------------------------------------------------------------------------------ ended early


def test_the_early_end_note_is_for_seed_recipe_runs_far_short_of_their_budget():
    assert early_end_note(preset("exp2", steps=30), 30) == (
        "[nst] 30 of the exp2 preset's 5000 steps: the result still looks like the photo; "
        "the seed's style needs its full budget (or use --preset fast)")
    assert early_end_note(preset("baseline"), 5000) is None
    assert early_end_note(preset("fast", steps=3), 3) is None
    assert early_end_note(with_fast_recipe(preset("baseline")), 150) is None   # the notebooks' fast recipe


@pytest.mark.parametrize("name", ["baseline", "fast"])
def test_the_command_line_says_when_a_seed_run_ended_early(name, tmp_path):
    argv = [sys.executable, "-m", "nst_helpers", "--content", CONTENT, "--style", STYLE, "--preset", name, "--steps", "3",
            "--size", "64", "--backbone", "efficientnet_lite0", "--device", "cpu", "--no-progress", "--out", str(tmp_path)]
    p = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=600, env={**os.environ, "PYTHONPATH": str(ROOT)})
    assert p.returncode == 0, p.stderr
    note = ("[nst] 3 of the baseline preset's 5000 steps: the result still looks like the photo; "
            "the seed's style needs its full budget (or use --preset fast)")
    assert (note in p.stdout.splitlines()) == (name == "baseline"), p.stdout
    assert "[nst] about" not in p.stdout   # a few seconds: no estimate


def test_a_notebook_says_it_too(effnet, tmp_path, capsys):
    s = notebook.settings(CONTENT, STYLE, preset="exp1", recipe="seed", steps=3, size=64, backbone="efficientnet_lite0",
                          outputs=tmp_path)
    result, _ = notebook.run_live(s, "exp1", effnet)   # NST_SMOKE=1: 15 steps
    out = capsys.readouterr().out
    assert (f"[nst] {len(result.history)} of the exp1 preset's 5000 steps: the result still looks like the photo; "
            'the seed\'s style needs its full budget (or use recipe = "fast")') in out.splitlines()
