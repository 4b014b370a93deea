"""The explorer panel driven headlessly: controls -> config, Run/Stop/Save, the figure, errors."""
import io
import json
import time
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from nst_helpers.core.config import PRESET_TABLE, PRESETS, SEED_STYLE_LAYERS, StyleConfig, preset
from nst_helpers.runs.folders import read_history
from nst_helpers.runs.plots import explorer_png
from nst_helpers.notebook.explorer import ExplorerPanel

IMAGES = Path(__file__).resolve().parents[1] / "images"


@pytest.fixture
def make_panel(effnet, tmp_path):
    panels = []

    def make(**kw):
        args = dict(images_dir=IMAGES, out_root=tmp_path / "outputs", backbone="efficientnet_lite0",
                    backbones={"efficientnet_lite0": effnet}, device="cpu")
        panel = ExplorerPanel(**{**args, **kw})
        panels.append(panel)
        return panel

    yield make
    for p in panels:  # never leave a run thread behind
        p.stop()
        p.wait(60)


def png_size(data: bytes) -> tuple:
    return Image.open(io.BytesIO(data)).size


def wait_for(predicate, timeout=60.0):
    end = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < end, "timed out waiting"
        time.sleep(0.01)


@pytest.mark.parametrize("name", PRESETS)
def test_the_preset_dropdown_fills_the_controls_from_the_preset_table(make_panel, name):
    panel = make_panel(preset_name="exp3" if name != "exp3" else "exp1")
    panel.preset.value = name  # as a user choosing it in the dropdown
    ref = preset(name, backbone="efficientnet_lite0")   # the panel's backbone: the fast preset is its family's
    row = PRESET_TABLE[name] if name in PRESET_TABLE else (ref.content_weight, ref.style_weight,
                                                           *(ref.style_layers[n] for n in SEED_STYLE_LAYERS))
    assert panel.content_weight.value == pytest.approx(row[0])
    assert panel.style_weight.value == pytest.approx(row[1])
    assert [panel.layer_sliders[n].value for n in SEED_STYLE_LAYERS] == pytest.approx(list(row[2:]))
    assert (panel.lr.value, panel.steps.value, panel.size.value, panel.optimizer.value) == \
        (pytest.approx(ref.lr), ref.steps, ref.size, ref.optimizer)
    assert panel.backbone.value == "efficientnet_lite0"  # a preset does not change the machine choice


def test_default_is_fast_on_a_cpu_and_seed_presets_warn_that_they_are_slow(make_panel):
    panel = make_panel()
    assert panel.preset.value == "fast" and panel.size.value == preset("fast").size and panel.optimizer.value == "lbfgs"
    assert "lower steps" not in panel.status.value
    panel.preset.value = "baseline"  # keeps the seed's Adam settings, says what they cost
    assert (panel.optimizer.value, panel.steps.value, panel.lr.value) == ("adam", 5000, pytest.approx(0.003))
    assert "min on cpu" in panel.status.value and "lower steps" in panel.status.value
    from nst_helpers.runs import duration
    start = duration.step_cost("efficientnet_lite0", "cpu", "adam")[1]   # the run's start-up: the same at any length
    long = panel.estimate_seconds(panel.config())
    panel.steps.value = 50
    assert panel.estimate_seconds(panel.config()) == pytest.approx(start + (long - start) * 50 / 5000)
    assert "lower steps" not in panel.status.value and "50 steps" in panel.status.value


def test_sliders_cover_the_ranges_and_only_edit_the_config(make_panel):
    panel = make_panel()
    for slider, values in ((panel.content_weight, (0.1, 10)), (panel.style_weight, (1e3, 1e8)),
                           (panel.lr, (1e-3, 1.0))):
        for v in values:
            slider.value = v
            assert slider.value == pytest.approx(v)
    assert all((s.min, s.max) == (0, 2) for s in panel.layer_sliders.values())
    assert list(panel.layer_sliders) == list(SEED_STYLE_LAYERS)
    sliders = [w for w in panel.controls().values() if hasattr(w, "continuous_update")]
    assert len(sliders) == 11 and not any(w.continuous_update for w in sliders)   # with the stroke size
    panel.content_weight.value = 5.0
    assert panel.thread is None and panel.result is None  # nothing ran
    assert panel.config().content_weight == 5.0


def test_run_uses_the_slider_values_updates_the_figure_and_records_the_history(make_panel):
    panel = make_panel(size=64, steps=6, update_every=2)
    before = panel.image.value
    panel.content_weight.value, panel.style_weight.value = 3.0, 2e5
    panel.layer_sliders["conv3_1"].value = 1.7
    panel.lr.value = 0.5
    assert panel.run_button.click() is None and panel.run_button.disabled and not panel.stop_button.disabled
    assert panel.wait(120)
    r = panel.result
    assert panel.error is None and r is not None
    expected = preset("fast", content_weight=3.0, style_weight=2e5, lr=0.5, steps=6, size=64,
                      backbone="efficientnet_lite0", optimizer="lbfgs", snapshot_every=1,
                      style_layers={**preset("fast").style_layers, "conv3_1": 1.7})
    assert r.config == expected == panel.ran_config
    assert [h["step"] for h in r.history] == [h["step"] for h in panel.history] == list(range(1, 7))
    assert panel.frames == 5  # steps 1, 2, 4, 6 and the final picture
    assert panel.image.value != before and png_size(panel.image.value) == png_size(before)
    assert "Done" in panel.status.value and "content weight 3 " in panel.status.value
    assert not panel.run_button.disabled and panel.stop_button.disabled and not panel.save_button.disabled


def test_render_png_puts_the_result_large_beside_content_and_style_over_the_losses():
    """The result is drawn large (at least 384 px wide in the 691 px panel: strokes can be judged),
    the content over the style beside it, the loss axes under all three."""
    solid = lambda rgb: torch.tensor(rgb, dtype=torch.float32).view(1, 3, 1, 1).expand(1, 3, 512, 512)  # noqa: E731
    history = [dict(step=i, total=10.0 / i, content=1.0 / i, style=1e-5 / i, size=40) for i in range(1, 9)]
    png = explorer_png(solid((0, 1, 0)), solid((0, 0, 1)), solid((1, 0, 0)), history, preset("fast"), "t")
    arr = np.asarray(Image.open(io.BytesIO(png)).convert("RGB")).astype(int)
    h, w = arr.shape[:2]
    assert w == 691
    boxes = {}
    for name, rgb in (("result", (255, 0, 0)), ("content", (0, 255, 0)), ("style", (0, 0, 255))):
        ys, xs = np.nonzero((np.abs(arr - rgb).sum(-1) == 0))
        boxes[name] = (xs.min(), xs.max(), ys.min(), ys.max())
    assert boxes["result"][1] - boxes["result"][0] + 1 >= 384, boxes
    assert boxes["content"][0] > boxes["result"][1] and boxes["style"][0] > boxes["result"][1]   # beside it
    assert boxes["content"][3] < boxes["style"][2]                                              # content over style
    bottom = arr[max(b[3] for b in boxes.values()) + 20:]
    assert (np.abs(bottom - (255, 255, 255)).sum(-1) > 0).mean() > 0.02  # the loss axes are drawn under them


def test_the_last_picture_is_the_final_result(make_panel):
    panel = make_panel(size=64, steps=3)
    panel.start()
    assert panel.wait(120)
    r = panel.result
    title = f"fast on efficientnet_lite0: 3 steps ({r.stop_reason})"
    assert panel.image.value == explorer_png(r.content, r.style, r.image, r.history, r.config, title)


def test_metrics_are_measured_with_the_run_backbone(make_panel, effnet):
    metrics = pytest.importorskip("nst_helpers.runs.metrics")
    panel = make_panel(size=64, steps=3)
    panel.start()
    assert panel.wait(120)
    r = panel.result
    expected = metrics.measure(r.image, r.content, r.style, effnet, r.history)
    assert panel.metrics.keys() == expected.keys() - {"total_loss"}
    for k, v in panel.metrics.items():
        assert v == pytest.approx(expected[k])
        assert f"{v:.4g}" in panel.info.value
    assert f"{r.history[-1]['total']:.4g}" in panel.info.value  # the final total loss row


def test_stop_ends_a_run_early_and_run_is_disabled_meanwhile(make_panel):
    panel = make_panel(preset_name="baseline", size=64, steps=2000, update_every=1)
    panel.run_button.click()
    wait_for(lambda: len(panel.history) >= 1, timeout=60)
    assert panel.running and panel.run_button.disabled
    assert panel.start() is False  # a second Run while running is refused
    panel.stop_button.click()
    assert panel.wait(60)
    assert panel.result.stop_reason == "stopped" and len(panel.result.history) < 2000
    assert "(stopped)" in panel.status.value
    panel.steps.value = 3  # the next run starts with a clear stop flag
    panel.start()
    assert panel.wait(60) and panel.result.stop_reason == "completed" and len(panel.result.history) == 3


def test_save_writes_a_run_folder_like_the_command_line(make_panel, tmp_path):
    panel = make_panel(size=64, steps=4)
    assert panel.save_button.disabled and panel.save() is None and "Nothing to save" in panel.status.value
    panel.start()
    assert panel.wait(120)
    panel.save_button.click()
    folder = panel.saved
    assert folder.parent == tmp_path / "outputs" / "fast" and str(folder) in panel.status.value
    meta = json.loads((folder / "config.json").read_text())
    assert StyleConfig.from_dict(meta["config"]) == panel.result.config
    assert meta["source"] == "explorer" and meta["content_image"] == "content.jpg" and meta["steps_done"] == 4
    assert [r["step"] for r in read_history(folder)] == [1, 2, 3, 4]
    for name in ("final.png", "comparison.png", "loss.png", "progress.gif", "content.png", "style.png"):
        assert (folder / name).is_file()


def test_an_error_in_the_run_thread_shows_in_the_status_line(make_panel, tmp_path):
    images = tmp_path / "imgs"
    images.mkdir()
    (images / "broken.jpg").write_bytes(b"not a jpeg at all")
    Image.new("RGB", (64, 64), (200, 30, 30)).save(images / "style.jpg")
    panel = make_panel(images_dir=images, size=64, steps=2)
    panel.content.value = "broken.jpg"
    assert "Image error" in panel.status.value  # the preview says so before any run
    panel.start()
    assert panel.wait(60)
    assert panel.result is None and type(panel.error).__name__ == "ImageError"
    assert "Error: ImageError" in panel.status.value and "broken.jpg" in panel.status.value
    assert "Traceback" in panel.info.value and not panel.run_button.disabled


def test_an_uploaded_image_becomes_the_content(make_panel):
    panel = make_panel(size=64, steps=1)
    buf = io.BytesIO()
    Image.new("RGB", (80, 64), (10, 120, 240)).save(buf, format="PNG")
    panel.uploads[panel.content].value = ({"name": "blue.png", "type": "image/png", "size": buf.tell(),
                                           "content": memoryview(buf.getvalue()), "last_modified": datetime.now(timezone.utc)},)
    assert panel.content.value == "upload: blue.png" and "content.jpg" in panel.content.options
    panel.start()
    assert panel.wait(60)
    c = panel.result.content
    assert tuple(c.shape) == (1, 3, 51, 64)  # 80x64 scaled to a longest side of 64
    assert c.mean(dim=(0, 2, 3)).tolist() == pytest.approx([10 / 255, 120 / 255, 240 / 255], abs=2e-3)


def test_a_bad_upload_or_no_images_says_so(make_panel, tmp_path):
    panel = make_panel(size=64, steps=1)
    panel.uploads[panel.style].value = ({"name": "notes.png", "type": "image/png", "size": 5,
                                         "content": memoryview(b"hello"), "last_modified": datetime.now(timezone.utc)},)
    assert "Could not read notes.png" in panel.status.value and panel.style.value == "style.jpg"
    (tmp_path / "empty").mkdir()
    empty = make_panel(images_dir=tmp_path / "empty")
    assert empty.content.value is None and "upload a content image" in empty.status.value
    assert empty.start() is False and empty.thread is None


def test_a_new_panel_stops_the_run_of_the_old_one(make_panel):
    """Re-running the notebook cell must not leave the old panel's run going in the background."""
    old = make_panel(preset_name="baseline", size=64, steps=2000, update_every=1)
    old.start()
    wait_for(lambda: len(old.history) >= 1, timeout=60)
    make_panel()
    assert old.wait(60) and old.result.stop_reason == "stopped"


def test_run_is_enabled_only_once_the_worker_has_ended_so_a_quick_click_always_starts(make_panel):
    panel = make_panel(size=64, steps=1)
    alive_when_enabled = []
    panel.run_button.observe(lambda ch: ch["new"] or alive_when_enabled.append(panel.thread.is_alive()), "disabled")
    threads = []
    for _ in range(4):
        panel.run_button.click()                      # the moment Run is enabled again, as fast as a script can
        threads.append(panel.thread)
        assert panel.run_button.disabled, "the click was silently refused"
        wait_for(lambda: not panel.run_button.disabled)
    assert panel.wait(60)
    assert len(set(threads)) == 4 and alive_when_enabled == [False] * 4
    assert panel.error is None and panel.result.stop_reason == "completed" and "Done" in panel.status.value


def test_a_refused_run_says_why(make_panel, monkeypatch):
    panel = make_panel(preset_name="baseline", size=64, steps=2000, update_every=1)
    panel.start()
    wait_for(lambda: len(panel.history) >= 1, timeout=60)
    said = []
    monkeypatch.setattr(panel, "_set_status", lambda text, error=False: said.append((text, error)))
    assert panel.start() is False
    assert ("A run is still going: press Stop first, or wait for it to end", True) in said
    monkeypatch.undo()
    panel.stop()
    assert panel.wait(60) and panel.result.stop_reason == "stopped"


class _WatchedFilters(list):
    """warnings.filters stand-in that notes being copied (warnings.catch_warnings copies it)."""

    touched = []

    def __getitem__(self, index):
        if isinstance(index, slice):
            self.touched.append("copied")
        return super().__getitem__(index)


def test_the_run_thread_changes_no_process_wide_state_itself(make_panel, monkeypatch, tmp_path):
    """Warnings filters, the umask and the socket timeout are process-wide: a thread that
    changes them races the kernel's own thread."""
    import os
    import socket
    import warnings

    def forbidden(*args):
        raise AssertionError("process-wide state changed from the explorer's thread")

    watched = _WatchedFilters(warnings.filters)
    monkeypatch.setattr(warnings, "filters", watched)
    monkeypatch.setattr(os, "umask", forbidden)
    monkeypatch.setattr(socket, "setdefaulttimeout", forbidden)
    bad = tmp_path / "imgs"
    bad.mkdir()
    Image.new("RGB", (80, 64), (10, 120, 240)).save(bad / "content.png")
    (bad / "style.jpg").write_bytes(b"truncated")              # the error path loads images too
    panel = make_panel(size=64, steps=3)
    panel.start()
    assert panel.wait(120) and panel.error is None
    panel.save()
    broken = make_panel(images_dir=bad, size=64, steps=1)
    broken.start()
    assert broken.wait(60) and type(broken.error).__name__ == "ImageError"
    assert panel.saved is not None and watched.touched == []


def test_the_run_thread_leaves_the_global_rng_alone(make_panel):
    panel = make_panel(size=64, steps=2)
    torch.manual_seed(1234)
    before = torch.get_rng_state()
    panel.start()
    assert panel.wait(60) and panel.error is None
    assert torch.equal(torch.get_rng_state(), before)


def test_every_slider_has_a_typed_entry_linked_both_ways(make_panel):
    panel = make_panel()
    sliders = {n: w for n, w in panel.controls().items() if hasattr(w, "readout")}
    assert panel.entries.keys() == sliders.keys() and len(sliders) == 11   # with the stroke size
    for name, s in sliders.items():
        e = panel.entries[name]
        log = isinstance(s, __import__("ipywidgets").FloatLogSlider)
        assert (e.min, e.max) == pytest.approx((10.0 ** s.min, 10.0 ** s.max) if log else (s.min, s.max)), name
        assert e.value == pytest.approx(s.value), name      # the real value, also for a log slider
    assert panel.entries["style_weight"].value == pytest.approx(preset("fast", backbone="efficientnet_lite0").style_weight)
    panel.entries["style_weight"].value = 1.77828e8      # typed: kept to three significant figures, both
    assert panel.style_weight.value == panel.entries["style_weight"].value == panel.config().style_weight == 1.78e8
    assert "style weight 1.78e+08" in panel.status.value
    panel.lr.value = 0.02                                 # dragged
    assert panel.entries["lr"].value == pytest.approx(0.02)
    panel.entries["steps"].value = 10 ** 6                # beyond the slider: both stop at its end
    assert panel.steps.value == panel.entries["steps"].value == 10000
    panel.entries["conv3_1"].value = -1.0
    assert panel.layer_sliders["conv3_1"].value == panel.entries["conv3_1"].value == 0.0
    panel.preset.value = "exp2"                           # a preset fills the entries too
    assert panel.entries["style_weight"].value == pytest.approx(2e6) and panel.entries["conv1_1"].value == pytest.approx(0.54)


def test_sliders_fill_their_row_and_the_columns_wrap(make_panel):
    panel = make_panel()
    columns = panel.widget.children[0]
    assert columns.layout.flex_flow == "row wrap" and len(columns.children) == 2
    for name, entry in panel.entries.items():
        s = panel.controls()[name]
        row = next(r for c in columns.children for r in c.children if s in getattr(r, "children", ()))
        assert row.children == (s, entry) and row.layout.width == "100%"
        assert s.readout is False and s.layout.width == "auto" and s.layout.flex.endswith("340px")  # grows from 340 px
        assert int(s.layout.min_width.rstrip("px")) >= 240 and s.style.description_width == "110px"
        assert "wrap" in row.layout.flex_flow  # a narrow panel puts the entry under the slider


def test_a_typed_value_is_what_the_run_uses(make_panel):
    panel = make_panel(size=64, steps=2)
    panel.entries["style_weight"].value = 3.5e5
    panel.entries["conv2_1"].value = 1.25
    panel.start()
    assert panel.wait(60) and panel.error is None
    assert panel.result.config.style_weight == pytest.approx(3.5e5)
    assert panel.result.config.style_layers["conv2_1"] == pytest.approx(1.25)


def test_save_reports_an_absolute_path(make_panel, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    panel = make_panel(size=64, steps=1, out_root=Path("..") / tmp_path.name / "rel")  # as from notebooks/
    panel.start()
    assert panel.wait(60)
    folder = panel.save()
    assert folder.is_absolute() and folder == panel.saved and folder.is_dir()
    assert folder.parent == (tmp_path / "rel" / "fast").resolve()
    assert f"Saved to {folder}/" in panel.status.value and ".." not in panel.status.value


def plain(status_html: str) -> str:
    """The status line as a browser shows it (tags dropped, entities decoded)."""
    import html
    import re
    return html.unescape(re.sub(r"<br>", "\n", re.sub(r"<(?!br>)[^>]+>", "", status_html)))


def table_rows(table_html: str) -> list:
    """The report's rows as lists of cell contents (header row first)."""
    import re
    return [re.findall(r"<t[dh][^>]*>(.*?)</t[dh]>", row) for row in table_html.split("<tr>")[1:]]


def test_the_ready_line_is_the_runs_own_plan_and_the_duration_estimate(make_panel):
    from nst_helpers.core import plan
    from nst_helpers.runs import duration
    panel = make_panel()                                         # fast, 512 px: a 3-level pyramid
    cfg = panel.config()
    levels = plan.plan(cfg, (512, 512), 32)
    est = duration.estimate(cfg, "efficientnet_lite0", "cpu", (512, 512))
    said = plain(panel.status.value)
    assert said.startswith(f"Ready: fast · {plan.describe(levels)} · content weight 1 ")
    assert f"about {duration.in_words(est)} on cpu (efficientnet_lite0, benchmark speed)" in said
    assert "(256, 362, 512 px)" in said and "150 steps on a 3-level pyramid" in said
    panel.size.value = 128                                       # one level at 128 px: the plan says so
    assert "150 steps at 128 px" in plain(panel.status.value)


def test_a_wide_content_image_is_planned_and_priced_at_its_own_shape(make_panel):
    from nst_helpers.runs import duration
    panel = make_panel(size=256)
    buf = io.BytesIO()
    Image.new("RGB", (400, 100), (10, 120, 240)).save(buf, format="PNG")
    panel.uploads[panel.content].value = ({"name": "wide.png", "type": "image/png", "size": buf.tell(),
                                           "content": memoryview(buf.getvalue()), "last_modified": datetime.now(timezone.utc)},)
    cfg = panel.config()
    assert panel.estimate_seconds(cfg) == pytest.approx(duration.estimate(cfg, "efficientnet_lite0", "cpu", (64, 256)))
    assert [lv.shape for lv in panel.plan(cfg)] == [(45, 181), (64, 256)]
    start = duration.step_cost("efficientnet_lite0", "cpu", cfg.optimizer)[1]   # start-up: the same for any shape
    square = duration.estimate(cfg, "efficientnet_lite0", "cpu")
    assert panel.estimate_seconds(cfg) - start < 0.3 * (square - start)  # the steps priced at a quarter's pixels
    panel.size.value = 64                                        # 16 px high: too thin for the backbone
    assert "Settings not valid" in panel.status.value and "raise size" in panel.status.value


def test_after_a_run_the_estimate_is_at_the_speed_the_panel_measured(make_panel):
    from nst_helpers.runs import duration
    panel = make_panel(size=64, steps=12)
    assert "benchmark speed" in panel.status.value
    panel.start()
    assert panel.wait(120) and panel.error is None
    panel.steps.value = 24
    per = panel.job.measured(panel.config())
    assert per is not None and "speed measured here" in panel.status.value
    est = duration.estimate(panel.config(), "efficientnet_lite0", "cpu", (64, 64), per_mpx_step=per)
    assert panel.estimate_seconds(panel.config()) == pytest.approx(est)
    assert f"about {duration.in_words(est)} on cpu" in plain(panel.status.value)


@pytest.mark.parametrize("name, typed, value, note", [
    ("size", 5000, 1024, "size 5000 px is above the slider's 1024 px: set to 1024"),
    ("size", 16, 32, "size 16 px is below the slider's 32 px: set to 32"),
    ("steps", 0, 1, "steps 0 is below the slider's 1: set to 1"),
    ("style_weight", 1e12, 1e9, "style weight 1e+12 is above the slider's 1e+09: set to 1e+09"),
    ("conv3_1", 2.5, 2.0, "conv3_1 2.5 is above the slider's 2: set to 2"),
])
def test_a_typed_value_outside_the_range_is_clamped_and_the_status_line_says_so(make_panel, name, typed, value, note):
    panel = make_panel()
    panel.entries[name].value = typed
    slider = panel.controls()[name]
    assert slider.value == pytest.approx(value) and panel.entries[name].value == pytest.approx(value)
    said = plain(panel.status.value).split("\n")
    assert said[0].startswith("Ready: ") and said[1:] == [note]
    cfg = panel.config()                                         # the run gets the clamped value
    held = {"size": cfg.size, "steps": cfg.steps, "style_weight": cfg.style_weight, "conv3_1": cfg.style_layers["conv3_1"]}
    assert held[name] == pytest.approx(value)


def test_a_clamp_note_stays_until_that_control_is_in_range_again(make_panel):
    panel = make_panel()
    panel.entries["size"].value = 5000
    panel.entries["steps"].value = 123                           # another control in range: the note stays
    assert "size 5000 px is above" in plain(panel.status.value) and "123 steps" in plain(panel.status.value)
    panel.entries["size"].value = 5000                           # typed again at the bound: said again
    assert plain(panel.status.value).count("size 5000 px") == 1
    panel.size.value = 256                                       # dragged: in range, the note goes
    assert "above" not in panel.status.value
    panel.entries["steps"].value = 20000
    assert "steps 20000 is above the slider's 10000" in plain(panel.status.value)
    panel.preset.value = "exp1"                                  # a preset's values: every note goes
    assert "above" not in panel.status.value


def test_the_report_shows_each_metric_beside_the_photos_and_the_paintings(make_panel, effnet):
    from nst_helpers.runs import metrics
    panel = make_panel(size=64, steps=3)
    panel.start()
    assert panel.wait(120) and panel.error is None
    r = panel.result
    ends = {"photo": metrics.measure(r.content, r.content, r.style, effnet),
            "painting": metrics.measure(r.style, r.content, r.style, effnet)}
    assert panel.references.keys() == {"photo", "painting"}
    for end, values in ends.items():
        for k, v in panel.references[end].items():
            assert v == pytest.approx(values[k]), (end, k)
    rows = {cells[0]: cells for cells in table_rows(panel.info.value)}
    for key, value in panel.metrics.items():
        cells = rows[metrics.METRICS[key][0]]
        assert cells[1:4] == [f"{value:.4g}", f"{ends['photo'][key]:.4g}", f"{ends['painting'][key]:.4g}"], cells
        if ends["photo"][key] != ends["painting"][key]:
            assert "nst-bar" in cells[4], cells                  # where the result lies between the two
    assert panel.references["photo"]["ssim"] == pytest.approx(1.0) and panel.references["photo"]["content_distance"] == 0


def test_a_stopped_run_says_at_which_step_of_how_many(make_panel):
    panel = make_panel(preset_name="baseline", size=64, steps=2000, update_every=1)
    panel.start()
    wait_for(lambda: len(panel.history) >= 2, timeout=60)
    panel.stop()
    assert panel.wait(60)
    n = len(panel.result.history)
    assert f"s: {n} of 2000 steps (stopped) on efficientnet_lite0, cpu" in panel.status.value
    assert ["steps", f"{n} of 2000"] == table_rows(panel.info.value)[1][:2]
    assert ["how it ended", f"you stopped it at step {n} of 2000"] == table_rows(panel.info.value)[2][:2]


def test_run_is_free_before_the_result_is_measured(make_panel, monkeypatch):
    """A finished or stopped run hands the panel back at once (Run enabled, the Done line) and
    measures the result after: nobody waits for the metrics to press Run again."""
    from nst_helpers.notebook.explorer import background
    seen, real = [], background.measure

    def slow_measure(result, net):
        seen.append(("measuring", panel.run_button.disabled, panel.job.metrics))
        time.sleep(1.0)
        return real(result, net)
    monkeypatch.setattr(background, "measure", slow_measure)
    panel = make_panel(preset_name="fast", size=64, steps=2)
    panel.start()
    assert panel.wait(60)
    assert seen == [("measuring", False, {})]          # Run was enabled before the metrics came
    assert panel.metrics and "measuring" not in panel.status.value and panel.status.value.count("Done in") == 1
    assert "SSIM" in panel.info.value and "measuring…" not in panel.info.value   # the report redrawn with them


def test_on_auto_the_fast_preset_fills_vgg19s_recipe(make_panel):
    """'auto' is VGG19: choosing `fast` fills VGG19's recipe (80 steps, style weight 3e6), and on
    EfficientNet-Lite0 its own (150 steps, 1e7); nothing is loaded or run for that."""
    panel = make_panel(backbone="auto", preset_name="fast")
    assert (panel.steps.value, panel.style_weight.value) == (80, pytest.approx(3e6))
    assert panel.config().mixed_precision and panel.config().scale_steps == [40, 25, 15]
    lite = make_panel(preset_name="fast")
    assert (lite.steps.value, lite.style_weight.value) == (150, pytest.approx(1e7))


def test_the_controls_of_notebook_06_are_in_the_panel(make_panel):
    panel = make_panel()
    panel.apply_preset("baseline")
    assert (panel.preserve_colour.value, panel.init.value, panel.adaptive_weights.value) == ("off", "content", "off")
    panel.preserve_colour.value, panel.init.value, panel.adaptive_weights.value = "luminance", "gray", "initial"
    panel.stroke_size.value, panel.pooling.value, panel.tile_size.value = 2.0, "avg", 512
    cfg = panel.config()
    assert (cfg.preserve_colour, cfg.init, cfg.adaptive_weights, cfg.stroke_size) == ("luminance", "gray", "initial", 2.0)
    assert (cfg.pooling, cfg.tile_size) == ("avg", 512)
    panel.apply_preset("fast")   # a preset fills them again
    assert (panel.config().init, panel.config().stroke_size) == ("content_in_style_colours", 1.0)
    assert (panel.config().pooling, panel.config().tile_size) == ("max", 0)



def test_the_style_region_dropdown_runs_with_the_mask(make_panel):
    panel = make_panel(size=64, steps=3)
    assert [v for _, v in panel.mask.options] == ["", "mask_background.png", "mask_figure.png"]
    panel.mask.value = "mask_background.png"
    assert panel.start() and panel.wait(120) and panel.error is None
    r = panel.result
    # where the background mask is black, a few pixels in from its edge (the pyramid's coarse levels
    # blur the edge): the astronaut
    figure = torch.nn.functional.max_pool2d(r.masks[0], 9, stride=1, padding=4)[0, 0] < 0.01
    assert figure.float().mean() > 0.3
    assert (r.image - r.content).abs().amax(1)[0][figure].max() < 1e-6   # she stays the photo
    folder = panel.save()
    assert json.loads((folder / "config.json").read_text())["mask"] == "mask_background.png"
    assert (folder / "masks.png").is_file()


def test_a_dragged_log_slider_holds_a_readable_value(make_panel):
    """A drag lands between round numbers (19952623.149688788 was shown): the value is kept to three
    significant figures, in the slider and its entry; a typed round value stays as typed."""
    panel = make_panel()
    panel.style_weight.value = 19952623.149688788
    assert panel.style_weight.value == 2e7 and panel.entries["style_weight"].value == 2e7
    panel.entries["style_weight"].value = 3.5e5
    assert panel.style_weight.value == 3.5e5


def test_masks_are_offered_as_masks_not_as_pictures(make_panel):
    panel = make_panel()
    pictures = set(panel.content.options) | set(panel.style.options)
    assert pictures and not any(name.lower().startswith("mask") for name in pictures)
    assert any(value.startswith("mask") for _, value in panel.mask.options if value)
