"""The interactive explorer: an ipywidgets panel over a background `transfer.run`.

    panel = ExplorerPanel()      # in a notebook cell; the last line displays it
    panel                        # sliders only edit the config; Run starts, Stop ends, Save writes a run folder

This module is the screen: the layout, the status line, the figure, the report and Save. The
controls and the config they describe are form.py's; the run, its threads and its measured
speed are background.py's (usable without widgets). The figure is rendered with matplotlib's
Agg canvas (no pyplot state) to PNG bytes that go into an `ipywidgets.Image`; ipykernel sends
widget updates made from a thread, and swapping an image's bytes does not flicker.

The status line says what the run will be: the plan the run will use (core.plan, for the chosen
content image and backbone), the settings, and the time runs.duration estimates (at the speed
this panel's last run measured, once there is one). While a run goes it says the step and the
time left from the run's own speed (duration.DurationEstimate). A typed value that was clamped
into a slider's range is said on a line under it, until that control holds a value in range
again, a preset is chosen or Run is pressed.
"""
import html
import io
import threading
import weakref
from pathlib import Path

import ipywidgets as W
from PIL import Image

from ...core import images, plan
from ...core.config import PRESETS, SEED_STYLE_LAYERS, preset
from ...core.devices import pick_device
from ...core.images import IMAGE_SUFFIXES
from ...runs import duration
from ...runs import folders as runs
from ...runs.plots import explorer_png
from . import form
from .background import Background, Hooks, concrete, min_size, summary
from .controls import PICKER, ROW, columns, paired
from .report import report_html, traceback_html

SLOW_S = 120  # an estimate over this suggests a quicker look


class ExplorerPanel:
    """The explorer's widgets over a Background run. `panel.widget` is the whole panel.

    preset_name: the starting preset (None: "fast" on a CPU, "baseline" on a GPU); size, steps:
    fixed values applied over every preset (smoke mode: tiny runs); images_dir: the images to
    choose from (None: images/ or ../images/); out_root: where Save writes (None: outputs/ next
    to images/); backbones: {name: module} already loaded; update_every: steps between figure
    updates (None: 3 for L-BFGS, 10 for Adam). The run's state: result, history (rows so far),
    metrics and references (the photo's and the painting's values), error, frames (figure
    updates), saved (the last folder Save wrote); job is the Background itself. Making a panel
    stops the runs of earlier ones: re-running the notebook cell leaves no run behind.
    """

    _panels = weakref.WeakSet()  # every panel made, so re-running its cell stops the old one's run

    def __init__(self, preset_name=None, images_dir=None, out_root=None, backbone="auto",
                 size=None, steps=None, device=None, backbones=None, update_every=None):
        for old in list(ExplorerPanel._panels):
            old.stop()
        ExplorerPanel._panels.add(self)
        self.device = str(pick_device(device))
        # images/ here or one up: the same call works from the project root and from notebooks/
        self.images_dir = Path(images_dir or next((d for d in ("images", "../images") if Path(d).is_dir()), "images"))
        self.out_root = Path(out_root or self.images_dir.parent / "outputs")
        self.fixed = {k: v for k, v in (("size", size), ("steps", steps)) if v is not None}
        self.saved, self.ran_images, self._uploads = None, {}, {}
        self._filling, self._clamps, self._said = False, {}, ("", False)
        self._status_lock = threading.Lock()  # the kernel's thread and the run's both write the status line
        self.job = Background(self.device, backbones, update_every,
                              Hooks(status=self._set_status, frame=self._frame, begin=self._begin, end=self._end,
                                    measured=self._measured))
        files = sorted(p.name for p in self.images_dir.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        start = preset_name or ("fast" if self.device == "cpu" else "baseline")
        self._build(form.make_controls(files, backbone), start)
        self._fill(start)
        self._show_inputs()

    def _build(self, controls: dict, start: str) -> None:
        """The widgets as attributes, their CSS handles (for the browser test), observers, layout."""
        for name in ("content_weight", "style_weight", "lr", "steps", "size", "backbone", "optimizer",
                     "content", "style", "mask", "stroke_size", *form.CHOICES):
            setattr(self, name, controls[name])
        self.layer_sliders = {n: controls[n] for n in SEED_STYLE_LAYERS}
        self.preset = W.Dropdown(options=PRESETS, value=start, description="preset", **PICKER)
        self.uploads = {w: W.FileUpload(accept="image/*", description="upload", layout={"width": "110px"})
                        for w in (self.content, self.style)}
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.save_button = W.Button(description="Save", icon="save", disabled=True)
        self.status, self.info = W.HTML(), W.HTML()
        # no margin: 100% plus a margin would stick out of a narrow panel
        self.image = W.Image(format="png", layout={"width": "100%", "max_width": "700px", "margin": "0"})
        others = dict(preset=self.preset, run=self.run_button, stop=self.stop_button, save=self.save_button,
                      status=self.status, figure=self.image, info=self.info)
        for name, w in {**controls, **others}.items():
            w.add_class(f"nst-{name.replace('_', '-')}")
        rows, self.entries = {}, {}  # every slider with its typed entry, by the same names as controls()
        for name, w in controls.items():
            if isinstance(w, (W.FloatSlider, W.FloatLogSlider, W.IntSlider)):
                rows[name], self.entries[name] = paired(w)
                self.entries[name].add_class(f"nst-{name.replace('_', '-')}-entry")
        form.watch_entries(self.entries, self._clamped)
        self.preset.observe(lambda ch: self._fill(ch["new"]), "value")
        for w in controls.values():
            w.observe(self._config_changed, "value")
        for chooser, up in self.uploads.items():
            up.observe(lambda ch, chooser=chooser: self._uploaded(chooser, ch["new"]), "value")
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self.save())
        choosers = [W.HBox([w, self.uploads[w]], layout=ROW) for w in (self.content, self.style)]
        left = [self.preset, rows["content_weight"], rows["style_weight"], *(rows[n] for n in SEED_STYLE_LAYERS)]
        right = [rows["lr"], rows["steps"], rows["size"], self.optimizer, self.backbone, *choosers,
                 self.mask, rows["stroke_size"], *(controls[n] for n in form.CHOICES)]   # the controls of notebook 06
        buttons = W.HBox([self.run_button, self.stop_button, self.save_button], layout={"flex_flow": "row wrap"})
        self.widget = W.VBox([columns(left, right), buttons, self.status, self.image, self.info])
        self.widget.add_class("nst-panel")

    def _repr_mimebundle_(self, **kw):  # `panel` as a cell's last line shows the widgets
        return self.widget._repr_mimebundle_(**kw)

    def controls(self) -> dict:
        """The widgets that make up the configuration, by name."""
        named = dict(content_weight=self.content_weight, style_weight=self.style_weight, lr=self.lr,
                     steps=self.steps, size=self.size, backbone=self.backbone, optimizer=self.optimizer,
                     content=self.content, style=self.style, mask=self.mask, stroke_size=self.stroke_size,
                     **{n: getattr(self, n) for n in form.CHOICES})
        return {**named, **self.layer_sliders}

    # the run's state, kept by the Background
    thread = property(lambda self: self.job.thread)
    running = property(lambda self: self.job.running)
    result = property(lambda self: self.job.result)
    error = property(lambda self: self.job.error)
    history = property(lambda self: self.job.history)
    metrics = property(lambda self: self.job.metrics)
    references = property(lambda self: self.job.references)
    frames = property(lambda self: self.job.frames)
    ran_config = property(lambda self: self.job.config)

    def apply_preset(self, name: str) -> None:
        """Select a preset and fill the controls from it (as choosing it in the dropdown does)."""
        if self.preset.value != name:
            self.preset.value = name  # the dropdown's observer fills the controls
        else:
            self._fill(name)

    def _fill(self, name: str) -> None:
        """The preset's values into the controls; the backbone stays as chosen, fixed size/steps win."""
        self._filling = True  # one status update at the end, not one per control
        try:
            form.fill(self.controls(), preset(name, backbone=self.backbone.value, **self.fixed))   # its family's recipe
        finally:
            self._filling = False
        self._clamps.clear()  # a preset's values are in range: no earlier note holds
        self._config_changed()

    def weights(self) -> dict:
        """The content/style weights and per-layer weights the sliders hold now."""
        return form.weights(self.controls())

    def config(self):
        """The StyleConfig the controls describe: the preset with the sliders' values."""
        return form.read(self.controls(), self.preset.value)

    def plan(self, cfg):
        """The levels a run of `cfg` will optimise on the chosen content image (core.plan.plan,
        as transfer.run calls it); a ValueError if the image is too thin for the backbone."""
        name = concrete(cfg.backbone)
        return plan.plan(cfg, form.content_hw(self._source(self.content), cfg.size), min_size(name), name)

    def estimate_seconds(self, cfg) -> float:
        """About how long `cfg` takes here on the chosen content image (runs.duration.estimate:
        at the speed this panel's runs measured, else the benchmark table's)."""
        return self.job.estimate(cfg, form.content_hw(self._source(self.content), cfg.size))

    def _config_changed(self, change=None):
        if self.running or self._filling:
            return
        try:
            cfg = self.config()
            levels = self.plan(cfg)
        except (images.ImageError, OSError) as err:  # no content image, or one PIL cannot open
            self._set_status(f"Image error: {err}", error=True)
            return
        except ValueError as err:
            self._set_status(f"Settings not valid: {err}", error=True)
            return
        est = self.estimate_seconds(cfg)
        speed = "speed measured here" if self.job.measured(cfg) is not None else "benchmark speed"
        slow = " — lower steps or size for a quicker look" if est > SLOW_S else ""
        self._set_status(f"Ready: {cfg.name} · {plan.describe(levels)} · {summary(cfg)} · "
                         f"about {duration.in_words(est)} on {self.device} ({concrete(cfg.backbone)}, {speed}){slow}")
        if change is not None and change["owner"] in (self.content, self.style):
            self._show_inputs()

    def _clamped(self, name: str, clamp) -> None:
        """form.watch_entries' report: a typed value was clamped (a Clamp) or is in range (None)."""
        if clamp is None and self._clamps.pop(name, None) is None:
            return
        if clamp is not None:
            self._clamps[name] = clamp
        if self.running:
            self._set_status(*self._said)  # the run's line, with the notes under it
        elif not self._filling:
            self._config_changed()

    def _set_status(self, text: str, error=False):
        """The status line (from any thread), with a line for each clamped entry under it."""
        style = "color:#b00020;font-weight:bold" if error else "color:inherit"
        with self._status_lock:
            self._said = (text, error)
            notes = "".join(f"<br><span class='nst-clamped' style='color:#8a4b00'>{html.escape(c.words())}</span>"
                            for c in list(self._clamps.values()))
            self.status.value = f"<span style='{style}'>{html.escape(text)}</span>{notes}"

    def _source(self, chooser):
        """The chosen image: an uploaded PIL image or a path in images_dir."""
        if chooser.value is None:
            raise images.ImageError(f"no images in {self.images_dir}/: upload a {chooser.description} image")
        return self._uploads.get(chooser.value) or self.images_dir / chooser.value

    def mask_source(self):
        """The chosen mask's path (the style goes where it is white), or None: the whole picture."""
        return self.images_dir / self.mask.value if self.mask.value else None

    def _uploaded(self, chooser, files):
        if not files:
            return
        f = files[0]
        try:
            pil = Image.open(io.BytesIO(bytes(f["content"])))
            pil.load()
        except Exception as err:  # a bad upload must say so, not vanish
            self._set_status(f"Could not read {f['name']}: {err}", error=True)
            return
        label = f"upload: {f['name']}"
        self._uploads[label] = pil
        chooser.options = [o for o in chooser.options if o != label] + [label]
        chooser.value = label

    def _show_inputs(self):
        try:
            c, s = (images.load_image(self._source(w), max_size=256) for w in (self.content, self.style))
        except (ValueError, OSError) as err:
            self._set_status(f"Image error: {err}", error=True)
            return
        self.image.value = explorer_png(c, s, None, [], None, title="press Run to start")

    def start(self) -> bool:
        """Start a run with the current settings in a background thread (Run button)."""
        refused = "A run is still going: press Stop first, or wait for it to end"
        if self.running:
            self._set_status(refused, error=True)
            return False
        try:
            cfg = self.config()
            sources = self._source(self.content), self._source(self.style), self.mask_source()
        except ValueError as err:
            self._set_status(f"Settings not valid: {err}", error=True)
            return False
        self._clamps.clear()  # said before Run; the run's own line says the values it uses
        if not self.job.start(cfg, *sources):  # a run began since the check above
            self._set_status(refused, error=True)
            return False
        self.ran_images = {"content_image": self.content.value, "style_image": self.style.value,
                           **({"mask": self.mask.value} if self.mask.value else {})}
        return True

    def stop(self):
        """Ask the run to end after its current step (Stop button)."""
        self.job.stop()

    def wait(self, timeout=None) -> bool:
        """Block until the run has ended and the panel is ready again; True if it has."""
        return self.job.wait(timeout)

    def _begin(self):  # the Background's hook, under its lock, before the worker starts
        self.run_button.disabled, self.stop_button.disabled, self.save_button.disabled = True, False, True
        self.info.value = ""

    def _end(self, text: str, error: bool):  # the finisher's hook, once the worker has ended
        job = self.job
        if job.result is not None:
            self.info.value = report_html(job.result, job.metrics, job.references)
            self.save_button.disabled = False
        elif job.error is not None:
            self.info.value = traceback_html(job.traceback)
        self.run_button.disabled, self.stop_button.disabled = False, True
        self._set_status(text, error)  # last: whoever waits for "Done" finds the panel ready

    def _measured(self, text: str):  # the finisher's hook, once the metrics are in (Run is free already)
        if self.job.result is not None:
            self.info.value = report_html(self.job.result, self.job.metrics, self.job.references)
        if not self.running:
            self._set_status(text, False)

    def _frame(self, f):  # a Frame from the worker
        self.image.value = explorer_png(f.content, f.style, f.image, f.history, f.config, f.title)

    def save(self):
        """Write the last run's folder, as the command line does (Save button); its absolute path."""
        if self.result is None:
            self._set_status("Nothing to save yet: press Run first", error=True)
            return None
        try:
            extra = {"source": "explorer", **self.ran_images, "metrics": self.metrics}
            folder = runs.save_run(self.result, root=self.out_root, extra=extra)
        except (OSError, ValueError) as err:
            self._set_status(f"Save failed: {err}", error=True)
            return None
        self.saved = Path(folder).resolve()  # absolute: "../outputs/..." means little beside a notebook
        self._set_status(f"Saved to {self.saved}/")
        return self.saved
