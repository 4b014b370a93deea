"""The explorer's run, without a screen: one `transfer.run` at a time in a background thread.

    job = Background("cpu", hooks=Hooks(status=print))
    job.start(cfg, "images/content.jpg", "images/style.jpg")   # False if a run is still going
    job.stop()                     # the run ends after its current step
    job.wait(60)                   # True once the run and its finisher have ended
    job.result, job.metrics, job.references, job.error

Why a thread: a kernel busy in a cell handles no widget messages, so a Stop button could
never be clicked. The worker only runs (and measures the result); a second, tiny thread, the
finisher, waits for it to end and only then calls `hooks.end`, under the same lock as `start`
calls `hooks.begin`: a face that enables its Run button in `end` never shows an enabled Run
while a worker is alive, so a click on it always starts a run. Neither thread changes
process-wide state (no warnings filters, umask, RNG seeds or socket defaults here; see
tests/test_widgets.py for the calls that remain in other modules).

What it keeps between runs: the backbones it loaded (by name) and the speed its runs measured,
in seconds per megapixel-step by (backbone, device, optimiser), which prices the next run
(`estimate`, through runs.duration.estimate) in place of the benchmark table.
"""
import threading
import time
import traceback
from dataclasses import dataclass
from typing import Callable

from ...backbones import OFFLINE, choose_backbone, load_backbone
from ...backbones.vgg import VGG19Features
from ...core import images, transfer
from ...core.config import SEED_STYLE_LAYERS
from ...runs import duration, metrics

MEASURE_AFTER = 10  # steps: a shorter run's time is mostly its set-up, and would overprice the next one


def _quiet(*_args, **_kw):
    return None


@dataclass
class Hooks:
    """What a face hears of the run. status(text, error): a line to show (from either thread);
    frame(Frame): a new picture to draw (from the worker); begin(): under the lock in `start`,
    before the worker starts; end(text, error): under the lock, once the worker has ended
    (its last status line: the face is free again); measured(text): under the lock, once the
    result's metrics are in (measured after `end`, so nobody waits for them to press Run)."""
    status: Callable = _quiet
    frame: Callable = _quiet
    begin: Callable = _quiet
    end: Callable = _quiet
    measured: Callable = _quiet


@dataclass
class Frame:
    """One picture of a run: the images (1, 3, H, W) in [0, 1] (image: the current result),
    the history so far (rows of transfer.run), the run's config and a title."""
    content: object
    style: object
    image: object
    history: list
    config: object
    title: str


def concrete(name: str) -> str:
    """The backbone a run of `name` will most likely use ('auto' resolved without loading it)."""
    return choose_backbone(name).name if name == "auto" else name


def min_size(name: str) -> int:
    """The smallest image side backbone `name` accepts (its class's min_size; nothing loaded)."""
    name = concrete(name)
    return OFFLINE[name].min_size if name in OFFLINE else VGG19Features.min_size


def summary(cfg) -> str:
    """The settings a person changes, in words: 'content weight 1 · style weight 1e+07 · layers
    0.2/0.5/1/1/1 · lbfgs lr 1' (the steps and sizes are the plan's: core.plan.describe)."""
    layers = "/".join(f"{cfg.style_layers.get(n, 0):g}" for n in SEED_STYLE_LAYERS)
    return (f"content weight {cfg.content_weight:.3g} · style weight {cfg.style_weight:.3g} · layers {layers} · "
            f"{cfg.optimizer} lr {cfg.lr:.3g}")


def steps_words(done: int, cfg, reason: str) -> str:
    """'60 steps (completed)', or '40 of 2000 steps (stopped)' when the run ended early."""
    if done == cfg.steps:
        return f"{done} steps ({reason})"
    return f"{done} of {cfg.steps} steps ({reason})"


def measure(result, backbone) -> dict:
    """metrics.measure for a result, with the backbone it ran on (total loss left out: the
    panel shows the final losses already)."""
    values = metrics.measure(result.image, result.content, result.style, backbone, result.history)
    return {k: v for k, v in values.items() if k != "total_loss"}


def references(content, style, backbone) -> dict:
    """The same metrics of the photo itself and of the painting itself, as if each were the
    result: {"photo": {...}, "painting": {...}}, the two ends a result's values lie between."""
    ends = {"photo": content, "painting": style}
    return {name: {k: v for k, v in metrics.measure(img, content, style, backbone).items() if k != "total_loss"}
            for name, img in ends.items()}


class Background:
    """One run at a time in a worker thread, reported through `hooks` (see the module docstring).

    device: where runs go; backbones: {name: module} already loaded (more are loaded on first
    use and kept); update_every: steps between frames (None: 3 for L-BFGS, 10 for Adam). After
    a run: result (None after an error), error, metrics, references, history (the rows as they
    came), config (the run's), frames (pictures sent), seconds_left (the live estimate).
    """

    def __init__(self, device: str, backbones=None, update_every=None, hooks: Hooks | None = None):
        self.device, self.update_every, self.hooks = device, update_every, hooks or Hooks()
        self.nets, self.speed = dict(backbones or {}), {}
        self.thread = self.finisher = self.result = self.error = self.config = None
        self.metrics, self.references, self.history, self.frames = {}, {}, [], 0
        self.seconds_left = self.traceback = None
        self._ends = None              # (content, style, backbone name, references) last measured
        self._net = self._done = None  # the last run's network and its "Done" line, for the metrics after it
        self._final = ("Run ended", False)
        self._lock = threading.Lock()  # start() and the finisher hand the face over under it
        self._stop = threading.Event()

    @property
    def running(self) -> bool:
        return self.thread is not None and self.thread.is_alive()

    def measured(self, cfg) -> float | None:
        """Seconds per megapixel-step that this object's runs of cfg's kind measured, or None."""
        return self.speed.get((concrete(cfg.backbone), self.device, cfg.optimizer))

    def estimate(self, cfg, content_hw=None) -> float:
        """Seconds a run of `cfg` on a content image (h, w) at cfg.size takes here (runs.duration:
        the speed measured here once there is one, else the benchmark table)."""
        name = concrete(cfg.backbone)
        return duration.estimate(cfg, name, self.device, content_hw, per_mpx_step=self.measured(cfg))

    def start(self, cfg, content_src, style_src, mask_src=None) -> bool:
        """Start a run of `cfg` on the two image sources (paths or PIL images); False (and
        nothing started) while a run is still going."""
        with self._lock:
            if self.running:
                return False
            self._stop.clear()
            self.result = self.error = self.seconds_left = self.traceback = None
            self.metrics, self.references, self.history, self.config, self.frames = {}, {}, [], cfg, 0
            self.hooks.begin()
            worker = threading.Thread(target=self._work, args=(cfg, content_src, style_src, mask_src), daemon=True,
                                      name="nst-explorer")
            self.thread = worker
            self.finisher = threading.Thread(target=self._finish, args=(worker,), daemon=True,
                                             name="nst-explorer-finish")
            worker.start()
            self.finisher.start()
        return True

    def stop(self) -> None:
        """Ask the run to end after its current step."""
        self._stop.set()
        if self.running:
            self.hooks.status("Stopping after this step…", False)

    def wait(self, timeout=None) -> bool:
        """Block until the run and its finisher have ended; True if they have."""
        end = None if timeout is None else time.monotonic() + timeout
        for t in (self.thread, self.finisher):
            if t is not None:
                t.join(None if end is None else max(0.0, end - time.monotonic()))
        return not self.running and not (self.finisher is not None and self.finisher.is_alive())

    def _finish(self, worker) -> None:
        """The finisher thread: once the worker has ended, hand over its last status line (the
        face is free), then measure the result and hand over the metrics."""
        worker.join()
        with self._lock:
            if self.thread is not worker:  # a newer run owns the face now
                return
            self.hooks.end(*self._final)
            result, net, done = self.result, self._net, self._done
        if result is None:
            return
        self._measure(result, net)
        with self._lock:
            if self.thread is worker:
                self.hooks.measured(done)

    def _backbone(self, cfg):
        key = cfg.backbone if cfg.pooling == "max" else (cfg.backbone, cfg.pooling)   # a given net pools max
        net = self.nets.get(key)
        if net is None:
            net = self.nets[key] = load_backbone(cfg.backbone, pooling=cfg.pooling, verbose=False)
        return net

    def _work(self, cfg, content_src, style_src, mask_src=None) -> None:
        self._final = ("Run ended", False)
        try:
            self.hooks.status(f"Loading the {cfg.backbone} backbone and the images…", False)
            net = self._backbone(cfg)
            content, style = (images.load_image(s, max_size=cfg.size) for s in (content_src, style_src))
            masks = None if mask_src is None else [images.load_image(mask_src)]   # resized to the photo by run()
            result, levels = self._run(cfg, net, content, style, masks)
            done = steps_words(len(result.history), cfg, result.stop_reason)
            self._measure_speed(result, levels, net.name)
            self._send(cfg, content, style, result.image, f"{cfg.name} on {net.name}: {done}")
            self.result, self._net = result, net
            self._done = f"Done in {result.seconds:.1f} s: {done} on {net.name}, {self.device} · {summary(cfg)}"
            self._final = (self._done + " · measuring the result…", False)
        except Exception as err:  # kept and shown: a thread's exception would otherwise vanish
            self.error, self.traceback = err, traceback.format_exc()
            self._final = (f"Error: {type(err).__name__}: {err}", True)

    def _run(self, cfg, net, content, style, masks=None):
        """transfer.run with a live duration estimate and a frame every few steps."""
        clock = duration.DurationEstimate(cfg, print_fn=_quiet, preview=None)   # start(levels): the run's plan
        before = self.estimate(cfg, tuple(content.shape[-2:]))
        every = self.update_every or (3 if cfg.optimizer == "lbfgs" else 10)
        where = f"{cfg.name} on {net.name} ({self.device})"

        def on_step(step, row, image):
            self.history.append(dict(row))
            left = clock.left(row["elapsed"])  # None until the run has measured its own speed
            self.seconds_left = max(0.0, before - row["elapsed"]) if left is None else left
            if step == 1 or step % every == 0:
                self._send(cfg, content, style, image, f"{cfg.name} on {net.name}: step {step}/{cfg.steps}")
                if not self._stop.is_set():  # keep "Stopping…" visible
                    self.hooks.status(f"Running {where}: step {step}/{cfg.steps} · loss {row['total']:.4g} · "
                                      f"{row['elapsed']:.1f} s, about {duration.in_words(self.seconds_left)} left",
                                      False)

        self.hooks.status(f"Running {where}: starting… (in a background thread: the kernel stays idle, so that Stop "
                          "and other cells answer)", False)
        result = transfer.run(content, style, cfg, callbacks=[clock, on_step], callback_every=1, backbone=net,
                              device=self.device, progress=False, stop_event=self._stop, masks=masks)
        return result, clock.levels

    def _send(self, cfg, content, style, image, title) -> None:
        self.frames += 1
        self.hooks.frame(Frame(content, style, image, list(self.history), cfg, title))

    def _measure_speed(self, result, levels, name) -> None:
        """Seconds per megapixel-step of the whole run (set-up, warm-up and frames included, as
        the benchmark table's figures are), for the next estimate of a run of its kind."""
        pixels = {lv.size: lv.pixels for lv in levels}
        mpx_steps = sum(pixels[r["size"]] for r in result.history) / 1e6
        if len(result.history) >= MEASURE_AFTER and mpx_steps > 0:
            self.speed[(name, self.device, result.config.optimizer)] = result.seconds / mpx_steps

    def _measure(self, result, net) -> None:
        """The result's metrics, and the photo's and the painting's (measured once per pair)."""
        try:
            self.metrics = measure(result, net)
            c, s, kept = result.content, result.style, self._ends
            if not (kept and kept[2] == net.name and _same(kept[0], c) and _same(kept[1], s)):
                kept = self._ends = (c, s, net.name, references(c, s, net))
            self.references = kept[3]
        except Exception as err:  # a metric that fails must not hide the result
            self.metrics = {"metrics unavailable": f"{type(err).__name__}: {err}"}
            self.references = {}


def _same(a, b) -> bool:
    return a.shape == b.shape and bool((a == b).all())

