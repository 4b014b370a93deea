"""A clip stylised frame by frame, without flicker (Ruder et al. 2016):

- frame 0 is a picture run (core.transfer.run) with the config as it is;
- each later frame starts from the previous stylised frame warped by the input's optical flow
  (where the flow is unreliable, disoccluded pixels: the frame's own start, cfg.init), and is
  optimised with the style and content loss plus temporal_weight x the temporal loss, on one scale
  (a coarse level would blur the warped start away) for a quarter of the picture run's work: it
  starts close to its answer (later_config);
- temporal_weight = 0 is plain per-frame transfer: every frame a picture run from its own start.

With compare=True the plain frames are made too (plain/), for the side-by-side video and the
flicker plot. The run folder (folder.py) is written as the frames finish; an interrupted video
(Ctrl-C, stop_event) goes on with resume(folder) from its first unfinished frame, and ends with the
same frames, bit for bit, as a video never interrupted (the last frame is kept as floats).

    result = stylise("clip.mp4", "images/style.jpg", preset("fast", size=256), max_frames=30)
"""
from dataclasses import dataclass, field
from pathlib import Path

from ..backbones import load_backbone
from ..core import preserve
from ..core.config import StyleConfig
from ..core.images import load_image, resize_to
from ..core.plan import plan
from ..core.start import checked, initial_image
from ..core.transfer import run
from ..runs import folders, kind, lock
from . import clips
from . import folder as vf
from .flow import frame_flow, warp
from .temporal import TemporalLoss, pair_error

TEMPORAL_WEIGHT = 2e5   # calibrated on Lite0 (64-128 px), where the fast preset's loss is ~1e3-1e4 near a frame's end:
                        # a mean squared difference of 0.01 from the warped frame then costs about as much
LATER_SHARE = 4         # a later frame costs ~1/4 of frame 0's steps (the flow and warp add the rest of a third)
STOPPED = ("interrupted", "stopped")


@dataclass
class VideoResult:
    """A video's run: its folder, how many frames are finished, why it ended (completed |
    interrupted | stopped), frames.csv's rows, and the mean warping errors (None: not measured)."""
    folder: Path
    frames: int
    stop_reason: str
    rows: list = field(default_factory=list)
    warping_error: float | None = None
    plain_warping_error: float | None = None


def later_config(cfg: StyleConfig, steps: int | None = None) -> StyleConfig:
    """A later frame's config: one scale at full size, `steps` steps; by default as many as cost a
    LATER_SHARE-th of the picture run: its pyramid's steps counted in full-size steps (a step at
    half the side costs a quarter), so a 3-level fast run (50 + 50 + 50) gives 22, not 50."""
    if not steps:
        levels = plan(cfg)
        full = sum(lv.steps * lv.pixels for lv in levels) / levels[-1].pixels
        steps = max(1, round(full / LATER_SHARE))
    return cfg.replace(steps=steps, scales=1, scale_steps=None)


def new_video(clip, style, config: StyleConfig | None = None, temporal_weight: float = TEMPORAL_WEIGHT,
              max_frames: int | None = None, start: float = 0.0, compare: bool = False, out="outputs",
              later_steps: int | None = None, flow: str = "dis") -> tuple[Path, dict]:
    """Check the inputs, make the run folder outputs/video/<timestamp>-<id>/ and write its settings."""
    cfg = checked(config)
    info = clips.probe(clip)
    load_image(style, max_size=64)   # a bad style image is refused now, not after a folder is made
    if temporal_weight < 0 or (compare and temporal_weight == 0):
        raise ValueError(f"temporal_weight {temporal_weight} with compare={compare}: give a weight >= 0, and > 0 "
                         "for a comparison with the plain frames")
    known = None if info.frames is None else max(0, info.frames - round(start * info.fps))
    frames = known if max_frames is None else max_frames if known is None else min(known, max_frames)
    settings = {"clip": str(Path(clip).resolve()), "style": str(Path(style).resolve()), "config": cfg.to_dict(),
                "temporal_weight": float(temporal_weight), "later_steps": later_config(cfg, later_steps).steps,
                "max_frames": max_frames, "start": float(start), "compare": bool(compare), "fps": info.fps,
                "frames": frames, "flow": flow, "size": list(info.size)}
    folder = folders.new_run_dir("video", out)
    kind.mark(folder, kind.VIDEO)   # a grid named video shares out/video/: it leaves this folder alone
    vf.write_settings(folder, settings)
    return folder, settings


def stylise(clip, style, config: StyleConfig | None = None, temporal_weight: float = TEMPORAL_WEIGHT,
            max_frames: int | None = None, start: float = 0.0, compare: bool = False, out="outputs",
            later_steps: int | None = None, backbone=None, device=None, progress: bool = True,
            stop_event=None) -> VideoResult:
    """Stylise the clip at path `clip` (mp4, avi, gif...) from `start` seconds, at most `max_frames`
    frames, at cfg.size, with the painting at path `style`; returns the VideoResult (its folder
    complete unless interrupted). backbone: a loaded one (default: cfg.backbone's)."""
    folder, settings = new_video(clip, style, config, temporal_weight, max_frames, start, compare, out, later_steps)
    return go(folder, settings, backbone, device, progress, stop_event)


def resume(folder, backbone=None, device=None, progress: bool = True, stop_event=None) -> VideoResult:
    """Go on with the unfinished video in `folder`, from its first unfinished frame, with its settings."""
    return go(Path(folder), vf.read_settings(folder), backbone, device, progress, stop_event)


def go(folder: Path, settings: dict, backbone=None, device=None, progress=True, stop_event=None) -> VideoResult:
    """The frames still to do, then (all done) the videos, the plot and DONE; one writer at a time."""
    cfg = StyleConfig.from_dict(settings["config"])
    with lock.hold(folder):
        net = backbone if backbone is not None else load_backbone(settings.get("backbone", cfg.backbone),
                                                                  pooling=cfg.pooling)
        if "backbone" not in settings:   # 'auto' resolved once: a resumed video uses the same network
            vf.write_settings(folder, {**settings, "backbone": net.name})
        bar = None
        if progress:
            from ..core.progress import progress_bar
            bar = progress_bar(total=settings["frames"], desc="video", unit="frame")
        try:
            reason = _frames(folder, settings, net, device, bar, stop_event)
        except KeyboardInterrupt:
            reason = "interrupted"   # outside a frame's run: every file written is whole
        finally:
            if bar is not None:
                bar.close()
        rows = vf.read_rows(folder)
        result = VideoResult(folder, len(rows), reason, rows, *_means(rows))
        if reason == "completed":
            vf.finish(folder, settings, rows, _summary(result, net))
    return result


def _passes(settings: dict) -> list:
    """(sub-folder, temporal weight) of each pass; frame 0 is shared (the same picture run)."""
    main = [(vf.MAIN, settings["temporal_weight"])]
    return main + [(vf.PLAIN, 0.0)] if settings["compare"] else main


def _frames(folder: Path, s: dict, net, device, bar, stop_event) -> str:
    """Every unfinished frame in turn, each pass's picture and floats, then its row; the reason it ended."""
    cfg = StyleConfig.from_dict(s["config"])
    later, style = later_config(cfg, s["later_steps"]), load_image(s["style"], max_size=cfg.size)
    rows, prev_in, prev = vf.read_rows(folder), None, {}
    if bar is not None:
        bar.update(len(rows))
    for t, frame in enumerate(clips.read_frames(s["clip"], cfg.size, s["max_frames"], s["start"])):
        if t < len(rows):   # finished before: only its input frame is needed, for the next flow
            prev_in = frame
            continue
        if t > 0 and not prev:
            prev = {d: vf.load_frame(folder, d, t - 1) for d, _ in _passes(s)}
        flows = None if t == 0 else frame_flow(frame, prev_in, s["flow"])
        row, new = {"frame": t}, {}
        for pass_dir, weight in _passes(s):
            key = "" if pass_dir == vf.MAIN else "plain_"
            if t == 0 and pass_dir == vf.PLAIN:   # frame 0 is a picture run in both
                new[pass_dir] = new[vf.MAIN]
                row.update(plain_seconds=row["seconds"], plain_steps=row["steps"], plain_warping_error=None)
                continue
            job = (cfg, None) if t == 0 or weight == 0 else (later, _temporal(cfg, frame, style, prev[pass_dir], flows, weight))
            result = run(frame, style, job[0], backbone=net, device=device, progress=False, stop_event=stop_event,
                         **(job[1] or {}))
            if result.stop_reason in STOPPED:
                return result.stop_reason   # the frame is not finished: a resume does it again
            new[pass_dir] = result.image
            row.update({f"{key}seconds": round(result.seconds, 3), f"{key}steps": len(result.history),
                        f"{key}warping_error": None if t == 0 else pair_error(result.image, prev[pass_dir], *flows)})
        for pass_dir, image in new.items():   # only a frame whose every pass finished is written
            vf.save_frame(folder, pass_dir, t, image)
        rows.append(row)
        vf.write_rows(folder, rows)
        vf.forget_floats(folder, t - 1)
        prev_in, prev = frame, new
        _tick(bar, rows, s)
        if stop_event is not None and stop_event.is_set():
            return "stopped"
    return "completed"


def _temporal(cfg: StyleConfig, frame, style, previous, flows, weight: float) -> dict:
    """run()'s start and extra_loss for a later frame: the previous stylised frame warped to this one
    (the frame's own start where the flow is unreliable), and the temporal loss against it."""
    backward, mask = flows
    warped = warp(previous, backward)
    own = initial_image(cfg, frame, resize_to(style, frame.shape[-2:]))
    target = preserve.prepare(cfg.preserve_colour, warped, style)[0]   # what the optimiser sees (luminance)
    return {"start": mask * warped + (1 - mask) * own, "extra_loss": TemporalLoss(weight, target, mask)}


def _tick(bar, rows: list, s: dict) -> None:
    """The bar one frame on, with the time the rest will take: later frames at their own pace."""
    if bar is None:
        return
    later = [r["seconds"] + (r.get("plain_seconds") or 0) for r in rows[1:]]
    each = sum(later) / len(later) if later else rows[0]["seconds"] * (1 / LATER_SHARE + s["compare"])
    bar.update(1)
    if s["frames"]:
        from ..runs.duration import in_words
        bar.set_postfix(rest=in_words(each * max(0, s["frames"] - len(rows))))


def _means(rows: list) -> tuple:
    out = []
    for key in ("warping_error", "plain_warping_error"):
        values = [r[key] for r in rows if r.get(key) is not None]
        out.append(sum(values) / len(values) if values else None)
    return tuple(out)


def _summary(result: VideoResult, net) -> dict:
    """What config.json adds at the end: the results, in numbers."""
    rows = result.rows
    later = [r["seconds"] for r in rows[1:]]
    return {"frames_done": result.frames, "warping_error": result.warping_error,
            "plain_warping_error": result.plain_warping_error, "seconds_first_frame": rows[0]["seconds"] if rows else None,
            "seconds_later_frame": sum(later) / len(later) if later else None, "backbone": net.name,
            "versions": folders.library_versions()}
