"""The interactive explorer: an ipywidgets control panel over `transfer.run`.

    panel = ExplorerPanel()      # in a notebook cell; the last line displays it
    panel                        # sliders only edit the config; Run starts, Stop ends, Save writes a run folder

Why a thread: a kernel busy in a cell handles no widget messages, so Stop could never be
clicked. Run starts the optimisation in a background thread (the kernel stays free), Stop
sets the threading.Event that `transfer.run` checks after every step, and the figure is
rendered with matplotlib's Agg canvas (no pyplot state) to PNG bytes that go into an
`ipywidgets.Image`; ipykernel sends widget updates made from a thread, and swapping an
image's bytes does not flicker.

Threads: the worker only runs; a second, tiny thread waits for it to end and only then
re-enables Run, so a click on an enabled Run always starts a run. Neither thread changes
process-wide state itself (no warnings filters, umask, RNG seeds or socket defaults here);
see tests/test_widgets.py for the calls that remain in other modules.
"""
import html
import io
import sys
import threading
import time
import traceback
import weakref
from pathlib import Path

import ipywidgets as W
from PIL import Image

from ...backbones import BACKBONES, load_backbone
from ...core import images, plan, transfer
from ...core.config import OPTIMIZERS, PRESET_DESCRIPTIONS, PRESETS, SEED_STYLE_LAYERS, preset
from ...core.devices import pick_device
from ...runs import duration, metrics
from ...runs import folders as runs
from ...runs.plots import explorer_png
from .controls import CHOOSER, PICKER, ROW, columns, paired, slider

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp", ".bmp")


def summary(cfg) -> str:
    layers = "/".join(f"{cfg.style_layers.get(n, 0):g}" for n in SEED_STYLE_LAYERS)
    return (f"content weight {cfg.content_weight:.3g} · style weight {cfg.style_weight:.3g} · layers {layers} · "
            f"{cfg.optimizer} lr {cfg.lr:.3g} · {cfg.steps} steps · {cfg.size} px")


class ExplorerPanel:
    """The explorer's widgets and its run thread. `panel.widget` is the whole panel.

    preset_name: the starting preset (None: "fast" on a CPU, "baseline" on a GPU); size, steps:
    fixed values applied over every preset (smoke mode: tiny runs); images_dir: the images to
    choose from (None: images/ or ../images/); out_root: where Save writes (None: outputs/ next
    to images/); backbones: {name: module} already loaded; update_every: steps between figure
    updates (None: 3 for L-BFGS, 10 for Adam). The run's state: result, history (rows so far),
    metrics, error, frames (figure updates), saved (the last folder Save wrote). Making a panel
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
        self.update_every = update_every
        self.fixed = {k: v for k, v in (("size", size), ("steps", steps)) if v is not None}
        self._nets, self._speed, self._uploads = dict(backbones or {}), {}, {}
        self.result = self.error = self.thread = self.saved = self._finisher = None
        self._final = ("Run ended", False)   # the worker's last status, shown by the finisher
        self._lock = threading.Lock()        # start() and _finish() hand the buttons over under it
        self.metrics, self.ran_images, self.entries = {}, {}, {}
        self._filling = False
        self.history, self.ran_config, self.frames = [], None, 0
        self._stop = threading.Event()
        files = sorted(p.name for p in self.images_dir.glob("*") if p.suffix.lower() in IMAGE_SUFFIXES)
        pick = lambda want: want if want in files else (files[0] if files else None)  # noqa: E731
        start = preset_name or ("fast" if self.device == "cpu" else "baseline")
        self.preset = W.Dropdown(options=PRESETS, value=start, description="preset", **PICKER)
        self.content_weight = slider(W.FloatLogSlider, min=-2, max=2, step=0.05, description="content weight")
        self.style_weight = slider(W.FloatLogSlider, min=2, max=9, step=0.05, description="style weight")
        self.layer_sliders = {n: slider(W.FloatSlider, min=0, max=2, step=0.01, description=n) for n in SEED_STYLE_LAYERS}
        self.lr = slider(W.FloatLogSlider, min=-4, max=1, step=0.05, description="learning rate")
        self.steps = slider(W.IntSlider, min=1, max=10000, description="steps")
        self.size = slider(W.IntSlider, min=32, max=1024, step=32, description="size (px)")
        self.backbone = W.Dropdown(options=BACKBONES, value=backbone, description="backbone", **PICKER)
        self.optimizer = W.Dropdown(options=OPTIMIZERS, description="optimiser", **PICKER)
        self.content = W.Dropdown(options=files, value=pick("content.jpg"), description="content", **CHOOSER)
        self.style = W.Dropdown(options=files, value=pick("style.jpg"), description="style", **CHOOSER)
        self.uploads = {w: W.FileUpload(accept="image/*", description="upload", layout={"width": "110px"})
                        for w in (self.content, self.style)}
        self.run_button = W.Button(description="Run", button_style="success", icon="play")
        self.stop_button = W.Button(description="Stop", button_style="danger", icon="stop", disabled=True)
        self.save_button = W.Button(description="Save", icon="save", disabled=True)
        self.status = W.HTML()
        self.info = W.HTML()
        # no margin: 100% plus a margin would stick out of a narrow panel
        self.image = W.Image(format="png", layout={"width": "100%", "max_width": "700px", "margin": "0"})
        others = dict(preset=self.preset, run=self.run_button, stop=self.stop_button, save=self.save_button,
                      status=self.status, figure=self.image, info=self.info)
        for name, w in {**self.controls(), **others}.items():  # CSS handles for the browser test
            w.add_class(f"nst-{name.replace('_', '-')}")
        self._fill(start)
        self.preset.observe(lambda ch: self._fill(ch["new"]), "value")
        for w in self.controls().values():
            w.observe(self._config_changed, "value")
        for chooser, up in self.uploads.items():
            up.observe(lambda ch, chooser=chooser: self._uploaded(chooser, ch["new"]), "value")
        self.run_button.on_click(lambda _: self.start())
        self.stop_button.on_click(lambda _: self.stop())
        self.save_button.on_click(lambda _: self.save())
        self._show_inputs()
        rows = {}  # every slider with its typed entry; self.entries by the same names as controls()
        for name, w in self.controls().items():
            if isinstance(w, (W.FloatSlider, W.FloatLogSlider, W.IntSlider)):
                rows[name], self.entries[name] = paired(w)
                self.entries[name].add_class(f"nst-{name.replace('_', '-')}-entry")
        choosers = [W.HBox([w, self.uploads[w]], layout=ROW) for w in (self.content, self.style)]
        left = [self.preset, rows["content_weight"], rows["style_weight"], *(rows[n] for n in self.layer_sliders)]
        right = [rows["lr"], rows["steps"], rows["size"], self.optimizer, self.backbone, *choosers]
        buttons = W.HBox([self.run_button, self.stop_button, self.save_button], layout={"flex_flow": "row wrap"})
        self.widget = W.VBox([columns(left, right), buttons, self.status, self.image, self.info])
        self.widget.add_class("nst-panel")

    def _repr_mimebundle_(self, **kw):  # `panel` as a cell's last line shows the widgets
        return self.widget._repr_mimebundle_(**kw)

    def controls(self) -> dict:
        """The widgets that make up the configuration, by name."""
        named = dict(content_weight=self.content_weight, style_weight=self.style_weight, lr=self.lr,
                     steps=self.steps, size=self.size, backbone=self.backbone, optimizer=self.optimizer,
                     content=self.content, style=self.style)
        return {**named, **self.layer_sliders}

    def apply_preset(self, name: str) -> None:
        """Select a preset and fill the controls from it (as choosing it in the dropdown does)."""
        if self.preset.value != name:
            self.preset.value = name  # the dropdown's observer fills the controls
        else:
            self._fill(name)

    def _fill(self, name: str) -> None:
        """The preset's values into the controls; the backbone stays as chosen, fixed size/steps win."""
        cfg = preset(name, **self.fixed)
        self._filling = True  # one status update at the end, not one per control
        try:
            self.content_weight.value, self.style_weight.value = cfg.content_weight, cfg.style_weight
            for n, s in self.layer_sliders.items():
                s.value = cfg.style_layers.get(n, 0.0)
            self.lr.value, self.optimizer.value = cfg.lr, cfg.optimizer
            self.steps.value, self.size.value = cfg.steps, cfg.size
        finally:
            self._filling = False
        self._config_changed()

    def weights(self) -> dict:
        """The content/style weights and per-layer weights the sliders hold now."""
        return {"content_weight": self.content_weight.value, "style_weight": self.style_weight.value,
                "style_layers": {n: s.value for n, s in self.layer_sliders.items()}}

    def config(self):
        """The StyleConfig the controls describe: the preset with the sliders' values."""
        cfg = preset(self.preset.value, **self.weights(), lr=self.lr.value, steps=self.steps.value,
                     size=self.size.value, backbone=self.backbone.value, optimizer=self.optimizer.value)
        return cfg.replace(snapshot_every=max(1, cfg.steps // 5)) if cfg.snapshot_every > cfg.steps else cfg

    def estimate_seconds(self, cfg) -> float:
        """About how long `cfg` takes here: measured by this panel's runs, else a rough guess."""
        name = cfg.backbone
        if name == "auto":
            from ...backbones import choose_backbone
            name = choose_backbone("auto").likely
        return duration.estimate(cfg, name, self.device, per_mpx_step=self._speed.get((name, self.device, cfg.optimizer)))

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def _config_changed(self, change=None):
        if self.running or self._filling:
            return
        try:
            cfg = self.config()
        except ValueError as err:
            self._set_status(f"Settings not valid: {err}", error=True)
            return
        est = self.estimate_seconds(cfg)
        slow = " — lower steps or size for a quicker look" if est > 120 else ""
        self._set_status(f"Ready: {PRESET_DESCRIPTIONS[cfg.name]} · {summary(cfg)} · "
                         f"about {duration.in_words(est)} on {self.device}{slow}")
        if change is not None and change["owner"] in (self.content, self.style):
            self._show_inputs()

    def _set_status(self, text: str, error=False):
        style = "color:#b00020;font-weight:bold" if error else "color:inherit"
        self.status.value = f"<span style='{style}'>{html.escape(text)}</span>"

    def _source(self, chooser):
        """The chosen image: an uploaded PIL image or a path in images_dir."""
        if chooser.value is None:
            raise images.ImageError(f"no images in {self.images_dir}/: upload a {chooser.description} image")
        return self._uploads.get(chooser.value) or self.images_dir / chooser.value

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
        with self._lock:
            if self.running:
                self._set_status("A run is still going: press Stop first, or wait for it to end", error=True)
                return False
            try:
                cfg = self.config()
                sources = self._source(self.content), self._source(self.style)
            except ValueError as err:
                self._set_status(f"Settings not valid: {err}", error=True)
                return False
            self._stop.clear()
            self.result = self.error = None
            self.metrics = {}
            self.history, self.ran_config, self.frames = [], cfg, 0
            self.ran_images = {"content_image": self.content.value, "style_image": self.style.value}
            self.run_button.disabled, self.stop_button.disabled, self.save_button.disabled = True, False, True
            self.info.value = ""
            worker = threading.Thread(target=self._work, args=(cfg, *sources), daemon=True, name="nst-explorer")
            self.thread = worker
            self._finisher = threading.Thread(target=self._finish, args=(worker,), daemon=True, name="nst-explorer-finish")
            worker.start()
            self._finisher.start()
        return True

    def stop(self):
        """Ask the run to end after its current step (Stop button)."""
        self._stop.set()
        if self.running:
            self._set_status("Stopping after this step…")

    def wait(self, timeout=None) -> bool:
        """Block until the run has ended and the panel is ready again; True if it has."""
        end = None if timeout is None else time.monotonic() + timeout
        for t in (self.thread, self._finisher):
            if t is not None:
                t.join(None if end is None else max(0.0, end - time.monotonic()))
        return not self.running and not (self._finisher is not None and self._finisher.is_alive())

    def _finish(self, worker):
        """The finisher thread: once the worker has ended, re-enable Run and show its last status."""
        worker.join()
        with self._lock:
            if self.thread is not worker:  # a newer run owns the buttons now
                return
            self.run_button.disabled, self.stop_button.disabled = False, True
            self._set_status(*self._final)  # last: whoever waits for "Done" finds the panel ready

    def _work(self, cfg, content_src, style_src):
        message, error = "Run ended", False
        try:
            self._set_status(f"Loading the {cfg.backbone} backbone and the images…")
            net = self._nets.get(cfg.backbone)
            if net is None:
                net = self._nets[cfg.backbone] = load_backbone(cfg.backbone, pooling=cfg.pooling, verbose=False)
            content, style = (images.load_image(s, max_size=cfg.size) for s in (content_src, style_src))
            every = self.update_every or (3 if cfg.optimizer == "lbfgs" else 10)

            def on_step(step, row, image):
                self.history.append(dict(row))
                if step == 1 or step % every == 0:
                    self._draw(cfg, content, style, image, f"{cfg.name} on {net.name}: step {step}/{cfg.steps}")
                    left = row["elapsed"] / step * (cfg.steps - step)
                    if not self._stop.is_set():  # keep "Stopping…" visible
                        self._set_status(f"Running {cfg.name} on {net.name} ({self.device}): step {step}/{cfg.steps}"
                                         f" · loss {row['total']:.4g} · {row['elapsed']:.1f} s, about {duration.in_words(left)} left")

            self._set_status(f"Running {cfg.name} on {net.name} ({self.device}): starting…")
            result = transfer.run(content, style, cfg, callbacks=[on_step], callback_every=1, backbone=net,
                                  device=self.device, progress=False, stop_event=self._stop)
            h = result.history  # seconds per megapixel-step, from step 2 on (step 1 includes the set-up)
            if len(h) >= 5:
                mpx_steps = sum(r["size"] ** 2 for r in h[1:]) / 1e6
                self._speed[(net.name, self.device, cfg.optimizer)] = (h[-1]["elapsed"] - h[0]["elapsed"]) / mpx_steps
            message = (f"Done in {result.seconds:.1f} s: {len(h)} steps ({result.stop_reason}) on {net.name}, "
                       f"{self.device} · {summary(cfg)}")
            self._draw(cfg, content, style, result.image, f"{cfg.name} on {net.name}: {len(h)} steps ({result.stop_reason})")
            self._set_status(f"Measuring the result of {len(h)} steps…")
            try:
                self.metrics = measure(result, net)
            except Exception as err:  # a metric that fails must not hide the result
                self.metrics = {"metrics unavailable": f"{type(err).__name__}: {err}"}
            self.result = result
            self.info.value = self._report(result)
            self.save_button.disabled = False
        except Exception as err:  # shown in the panel: a thread's exception would otherwise vanish
            self.error = err
            message, error = f"Error: {type(err).__name__}: {err}", True
            self.info.value = f"<details><summary>traceback</summary><pre>{html.escape(traceback.format_exc())}</pre></details>"
        finally:
            self._final = (message, error)  # shown by _finish once this thread has ended

    def _draw(self, cfg, content, style, image, title):
        self.image.value = explorer_png(content, style, image, list(self.history), cfg, title)
        self.frames += 1

    def _report(self, result) -> str:
        """The final losses and the quality metrics as an HTML table."""
        last = result.history[-1] if result.history else {}
        rows = [("steps", len(result.history), ""), ("stopped because", result.stop_reason, ""),
                ("seconds", f"{result.seconds:.1f}", ""), ("backbone", result.backbone, "")]
        rows += [(f"final {k} loss", f"{last[k]:.4g}", "") for k in ("total", "content", "style") if k in last]
        labels = metrics.METRICS
        for k, v in self.metrics.items():
            label, meaning = labels.get(k, (k, ""))
            rows.append((label, f"{v:.4g}" if isinstance(v, float) else v, meaning))
        cells = "".join("<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in rows)
        return f"<table class='nst-metrics'><tr><th>after the run</th><th></th><th>higher means</th></tr>{cells}</table>"

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


def measure(result, backbone) -> dict:
    """nst_helpers.metrics.measure for a result, with the backbone it ran on (total loss left out:
    the panel shows the final losses already)."""
    values = metrics.measure(result.image, result.content, result.style, backbone, result.history)
    return {k: v for k, v in values.items() if k != "total_loss"}
