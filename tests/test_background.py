"""The explorer's run without a screen: notebook/explorer/background.py, no ipywidgets."""
import subprocess
import sys
import time
from pathlib import Path

import pytest

from nst_helpers.core import plan
from nst_helpers.core.config import preset
from nst_helpers.notebook.explorer import background
from nst_helpers.notebook.explorer.background import Background, Hooks
from nst_helpers.runs import duration, metrics

ROOT = Path(__file__).resolve().parents[1]
CONTENT, STYLE = ROOT / "images" / "content.jpg", ROOT / "images" / "swirls.jpg"


def test_it_imports_without_ipywidgets():
    code = "import sys, nst_helpers.notebook.explorer.background; print('ipywidgets' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=ROOT).stdout
    assert out.strip() == "False"


class Heard:
    """Hooks that write down what they hear."""

    def __init__(self):
        self.said, self.frames, self.events = [], [], []
        self.hooks = Hooks(status=lambda text, error=False: self.said.append((text, error)),
                           frame=self.frames.append, begin=lambda: self.events.append("begin"),
                           end=lambda text, error: self.events.append(("end", text, error)))


def test_a_run_reports_through_its_hooks_and_measures_against_the_photo_and_the_painting(effnet):
    heard = Heard()
    job = Background("cpu", {"efficientnet_lite0": effnet}, update_every=2, hooks=heard.hooks)
    cfg = preset("fast", size=64, steps=4, backbone="efficientnet_lite0")
    assert job.start(cfg, CONTENT, STYLE) and job.wait(120)
    r = job.result
    assert job.error is None and r.stop_reason == "completed" and job.config == cfg
    assert heard.events[0] == "begin" and heard.events[1][0] == "end" and len(heard.events) == 2
    assert heard.events[1][1].startswith("Done in ") and "4 steps (completed) on efficientnet_lite0, cpu" in heard.events[1][1]
    assert [f.history[-1]["step"] for f in heard.frames] == [1, 2, 4, 4] and job.frames == 4
    assert heard.frames[-1].image is r.image and heard.frames[-1].title == "fast on efficientnet_lite0: 4 steps (completed)"
    assert any(text.startswith("Running fast on efficientnet_lite0 (cpu): step 2/4") for text, _ in heard.said)
    for end, image in (("photo", r.content), ("painting", r.style)):
        expected = metrics.measure(image, r.content, r.style, effnet)
        assert job.references[end].keys() == expected.keys() - {"total_loss"} == job.metrics.keys()
        assert job.references[end] == pytest.approx({k: v for k, v in expected.items() if k != "total_loss"})


def test_one_run_at_a_time_and_stop_ends_it(effnet):
    heard = Heard()
    job = Background("cpu", {"efficientnet_lite0": effnet}, update_every=1, hooks=heard.hooks)
    cfg = preset("baseline", size=64, steps=2000, backbone="efficientnet_lite0")
    assert job.start(cfg, CONTENT, STYLE)
    assert job.start(cfg, CONTENT, STYLE) is False  # refused while the first one goes
    end = time.monotonic() + 60
    while not job.history:
        assert job.running and time.monotonic() < end
        time.sleep(0.01)
    job.stop()
    assert job.wait(60) and job.result.stop_reason == "stopped"
    n = len(job.result.history)
    assert f"Done in {job.result.seconds:.1f} s: {n} of 2000 steps (stopped)" in heard.events[-1][1]
    assert ("Stopping after this step…", False) in heard.said


def test_an_error_is_kept_and_said(tmp_path, effnet):
    heard = Heard()
    (tmp_path / "bad.jpg").write_bytes(b"no jpeg")
    job = Background("cpu", {"efficientnet_lite0": effnet}, hooks=heard.hooks)
    assert job.start(preset("fast", size=64, steps=2, backbone="efficientnet_lite0"), tmp_path / "bad.jpg", STYLE)
    assert job.wait(60) and job.result is None and type(job.error).__name__ == "ImageError"
    assert heard.events[-1][1].startswith("Error: ImageError") and heard.events[-1][2] is True
    assert "Traceback" in job.traceback


def test_the_estimate_is_the_duration_estimators_and_a_run_measures_its_own_speed(effnet):
    job = Background("cpu", {"efficientnet_lite0": effnet})
    cfg = preset("fast", size=96, steps=12, backbone="efficientnet_lite0")
    assert job.measured(cfg) is None
    assert job.estimate(cfg, (48, 96)) == duration.estimate(cfg, "efficientnet_lite0", "cpu", (48, 96))
    assert job.start(cfg, CONTENT, STYLE) and job.wait(120) and job.error is None
    r = job.result
    levels = plan.plan(cfg, tuple(r.content.shape[-2:]), effnet.min_size)
    pixels = {lv.size: lv.pixels for lv in levels}
    per = r.seconds / (sum(pixels[row["size"]] for row in r.history) / 1e6)  # the whole run, as the table's figures
    assert job.measured(cfg) == pytest.approx(per)
    assert job.estimate(cfg, (96, 96)) == pytest.approx(duration.estimate(cfg, "efficientnet_lite0", "cpu", (96, 96),
                                                                          per_mpx_step=per))
    short = Background("cpu", {"efficientnet_lite0": effnet})
    assert short.start(cfg.replace(steps=background.MEASURE_AFTER - 1), CONTENT, STYLE) and short.wait(120)
    assert short.speed == {}  # too short to say the speed: mostly set-up


def test_the_time_left_comes_from_the_runs_duration_estimate(effnet, monkeypatch):
    monkeypatch.setattr(duration.DurationEstimate, "left", lambda self, elapsed: 4242.0)
    heard = Heard()
    job = Background("cpu", {"efficientnet_lite0": effnet}, update_every=1, hooks=heard.hooks)
    assert job.start(preset("fast", size=64, steps=3, backbone="efficientnet_lite0"), CONTENT, STYLE) and job.wait(60)
    running = [text for text, _ in heard.said if text.startswith("Running") and "step" in text and "/3" in text]
    assert len(running) == 3 and all(text.endswith("about 71 min left") for text in running), running
    assert job.seconds_left == 4242.0


@pytest.mark.parametrize("done, reason, text", [(60, "completed", "60 steps (completed)"),
                                               (40, "stopped", "40 of 60 steps (stopped)"),
                                               (52, "early_stop", "52 of 60 steps (early_stop)")])
def test_steps_in_words(done, reason, text):
    assert background.steps_words(done, preset("fast", steps=60), reason) == text


def test_min_size_is_the_backbones_own_without_loading_it(effnet):
    assert background.min_size("efficientnet_lite0") == effnet.min_size
    assert background.min_size("vgg19") == 32
