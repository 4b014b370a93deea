"""Style transfer on videos (video/): clips keep their frames, size and rate through a round trip;
warping moves pixels by the flow; the reliability mask finds what the generated clip's disc
uncovers (its geometry is known); the temporal loss keeps a static clip still and makes the
generated clip flicker less than frame-by-frame transfer; an interrupted video resumes at its next
frame and ends with the same frames; bad clips are one line on the command line."""
from pathlib import Path

import numpy as np
import pytest
import torch

from nst_helpers import preset
from nst_helpers.core.images import load_image
from nst_helpers.video import clips, flow, folder as vf, stylise, synthetic
from test_bad_input import assert_one_line_error, rows
from margins import above, below

STYLE = str(Path(__file__).resolve().parents[1] / "images" / "swirls.jpg")


def lite(steps=12):
    return preset("fast", size=64, steps=steps, backbone="efficientnet_lite0")


def test_a_later_frame_costs_a_quarter_of_the_picture_run():
    # fast on Lite0 at 384 px: 50 steps each at 192, 272 and 384 px = 50 * (192**2 + 272**2 + 384**2) / 384**2 = 87.7
    # full-size steps (square plan), a quarter of that 22; a one-scale run of 12 steps: 3; an explicit count wins
    assert stylise.later_config(preset("fast", size=384, backbone="efficientnet_lite0")).steps == round(50 * (192**2 + 272**2 + 384**2) / 384**2 / 4)
    assert stylise.later_config(lite(12)).steps == 3 and stylise.later_config(lite(12), steps=7).steps == 7
    assert stylise.later_config(preset("fast", size=384)).scales == 1


@pytest.fixture(scope="module")
def clip(tmp_path_factory):
    """The generated clip: 5 frames of 96x64 px at 8 fps, as an mp4 (stylised at 64 px: 64x43)."""
    return synthetic.make_clip(tmp_path_factory.mktemp("clip") / "generated.mp4", frames=5, size=96)


# ------------------------------------------------------------------------------ clips and flow

@pytest.mark.parametrize("suffix, fps", [(".mp4", 8.0), (".mp4", 24.0), (".gif", 10.0)])
def test_a_round_trip_keeps_frames_size_and_rate(tmp_path, suffix, fps):
    made = list(synthetic.generated_frames(6, 96))
    path = clips.write_clip(iter(made), tmp_path / f"clip{suffix}", fps)
    info = clips.probe(path)
    assert (info.frames, info.size, info.fps) == (6, (96, 64), fps)
    back = list(clips.read_frames(path))
    assert len(back) == 6 and all(b.shape == (1, 3, 64, 96) for b in back)
    below(max((a - b).abs().mean().item() for a, b in zip(made, back)), 0.03, f"mean codec error, {suffix}")   # H.264 at crf 18, or GIF's palette
    assert len(list(clips.read_frames(path, max_frames=2))) == 2
    assert torch.allclose(next(clips.read_frames(path, start=3 / fps)), back[3], atol=0.02)


def test_warping_by_a_shift_moves_the_pixels_by_it():
    image = torch.rand(1, 3, 20, 30, generator=torch.Generator().manual_seed(0))
    w = torch.zeros(1, 2, 20, 30)
    w[:, 0], w[:, 1] = 3.0, -2.0                       # out(y, x) = image(y - 2, x + 3)
    out = flow.warp(image, w)
    assert torch.allclose(out[..., 2:, :-3], image[..., :-2, 3:], atol=1e-5)
    assert flow.outside(w)[..., 2:, :-3].sum() == 0 and flow.outside(w)[..., :2, :].all()


def test_the_flow_of_a_shifted_photo_is_the_shift_and_undoes_it():
    photo = load_image(synthetic.PHOTO, max_size=160)
    a, b = photo[..., 20:84, 20:116], photo[..., 22:86, 17:113]   # b(y, x) = a(y + 2, x - 3)
    w = flow.flow(b, a)                                          # b(p) ~ a(p + w(p)): w = (-3, +2)
    inner = w[..., 8:-8, 8:-8]
    assert inner[0, 0].median().item() == pytest.approx(-3, abs=0.25)
    assert inner[0, 1].median().item() == pytest.approx(2, abs=0.25)
    below((flow.warp(a, w) - b)[..., 8:-8, 8:-8].abs().mean(), 0.02, "warp error inside")


def test_the_mask_marks_what_the_disc_uncovers_and_trusts_the_rest():
    n, shape = 8, (64, 96)
    frames = list(synthetic.generated_frames(n, 96))
    uncovered, rest = [], []
    for t in range(1, n):
        _, mask = flow.frame_flow(frames[t], frames[t - 1])
        before, now = synthetic.disc_at(t - 1, n, shape).mask(shape), synthetic.disc_at(t, n, shape).mask(shape)
        new = before * (1 - now)   # photo now, under the disc one frame before: nothing to follow
        far = 1 - torch.nn.functional.max_pool2d(before + now, 15, 1, 7).clamp(max=1)
        far[..., :8, :] = far[..., -8:, :] = far[..., :, :8] = far[..., :, -8:] = 0   # the pan uncovers the edges
        uncovered.append(((1 - mask) * new).sum().item() / new.sum().item())
        rest.append(((1 - mask) * far).sum().item() / far.sum().item())
    above(np.mean(uncovered), 0.85, "uncovered share marked, mean")
    above(min(uncovered), 0.5, "uncovered share marked, least")
    below(np.mean(rest), 0.05, "far pixels marked, mean")
    below(max(rest), 0.15, "far pixels marked, most")


# ------------------------------------------------------------------------------ videos

@pytest.fixture(scope="module")
def compared(clip, effnet, tmp_path_factory):
    """The generated clip stylised with the temporal loss and frame by frame (compare)."""
    return stylise.stylise(clip, STYLE, lite(), compare=True, out=tmp_path_factory.mktemp("out"), backbone=effnet,
                           progress=False)


def test_the_temporal_loss_flickers_less_than_frame_by_frame(compared):
    assert compared.stop_reason == "completed" and compared.frames == 5
    below(compared.warping_error / compared.plain_warping_error, 0.3, "warping error, temporal / frame by frame")
    later = compared.rows[1:]
    assert all(r["warping_error"] < r["plain_warping_error"] for r in later)
    assert all(r["steps"] == stylise.later_config(lite()).steps for r in later) and compared.rows[0]["steps"] == lite().steps


def test_the_folder_holds_frames_videos_plot_and_done(compared):
    folder = compared.folder
    assert folder.parent.name == "video"
    assert (folder / "DONE").is_file() and not list(folder.rglob("*.pt")) and not (folder / ".lock").exists()
    assert sorted(p.name for p in (folder / "frames").iterdir()) == [f"{t:05d}.png" for t in range(5)]
    side = clips.probe(folder / "side_by_side.mp4")
    assert side.size == (3 * 64, 43 + 1) and side.frames == 5 and side.fps == 8.0   # odd height padded to even
    assert clips.probe(folder / "stylised.mp4").frames == 5 and (folder / "flicker.png").stat().st_size > 1000
    import json
    meta = json.loads((folder / "config.json").read_text())
    assert meta["warping_error"] == pytest.approx(compared.warping_error) and meta["backbone"] == "efficientnet_lite0"


def test_a_static_clip_stays_still_with_the_temporal_loss(tmp_path, effnet):
    frame = next(synthetic.generated_frames(1, 96))
    still = clips.write_clip([frame] * 4, tmp_path / "still.mp4", 8)
    result = stylise.stylise(still, STYLE, lite(), out=tmp_path, backbone=effnet, progress=False)
    below(result.warping_error, 5e-5, "warping error of a static clip")   # frame by frame: ~1.5e-4 (the mp4's frames differ a little)
    first, last = (load_image(vf.frame_png(result.folder, vf.MAIN, t)) for t in (0, 3))
    below((first - last).abs().mean(), 0.01, "first - last frame of a static clip")


class StopAt:
    """A stop_event that is set from its n-th question on (run asks once a step, the video once a frame)."""

    def __init__(self, n):
        self.n, self.asked = n, 0

    def is_set(self):
        self.asked += 1
        return self.asked >= self.n


def test_an_interrupted_video_resumes_at_its_next_frame_with_the_same_frames(clip, compared, effnet, tmp_path):
    # frame 0 asks 12 times + once after it, frame 1 asks at most 3 (temporal) + 12 (plain) + 1: stop in frame 2
    cut = stylise.stylise(clip, STYLE, lite(), compare=True, out=tmp_path, backbone=effnet, progress=False,
                          stop_event=StopAt(33))
    assert cut.stop_reason == "stopped" and 1 <= cut.frames < 5 and not (cut.folder / "DONE").exists()
    done = cut.frames
    assert len(list((cut.folder / "frames").glob("*.png"))) == done   # the frame cut short was not kept
    again = stylise.resume(cut.folder, backbone=effnet, progress=False)
    assert again.stop_reason == "completed" and again.frames == 5 and again.rows[done]["frame"] == done
    keys = ("frame", "steps", "warping_error", "plain_steps", "plain_warping_error")
    assert [{k: r[k] for k in keys} for r in again.rows] == [{k: r[k] for k in keys} for r in compared.rows]
    for sub in (vf.MAIN, vf.PLAIN):
        for t in range(5):
            a, b = (load_image(vf.frame_png(f, sub, t)) for f in (again.folder, compared.folder))
            assert torch.equal(a, b), (sub, t)


# ------------------------------------------------------------------------------ bad clips


def _bad_clip(kind: str, tmp: Path, clip: Path) -> Path:
    import imageio_ffmpeg
    if kind == "text":
        (tmp / "notes.mp4").write_text("these are not frames\n" * 20)
        return tmp / "notes.mp4"
    if kind == "no_frames":   # ffmpeg's own file for a writer closed before any frame
        writer = imageio_ffmpeg.write_frames(str(tmp / "empty.mp4"), (64, 48), ffmpeg_log_level="quiet")
        writer.send(None)
        writer.close()
        return tmp / "empty.mp4"
    if kind == "codec":   # an MJPEG avi whose codec tag is made unknown
        path = tmp / "odd.avi"
        writer = imageio_ffmpeg.write_frames(str(path), (64, 48), codec="mjpeg", macro_block_size=1,
                                             ffmpeg_log_level="quiet")
        writer.send(None)
        writer.send(np.zeros((48, 64, 3), np.uint8).tobytes())
        writer.close()
        path.write_bytes(path.read_bytes().replace(b"MJPG", b"QQQQ"))
        return path
    return clip


BAD = [  # kind, extra flags, words the line must have
    ("text", [], ["notes.mp4", "is not a video", "pass an mp4"]),
    ("no_frames", [], ["empty.mp4", "has no video frames", "pass a clip with frames"]),
    ("codec", [], ["odd.avi", "codec 'QQQQ' cannot be decoded", "convert it to H.264"]),
    ("memory", ["--size", "40000"], ["needs about", "use --size"]),
    ("late_start", ["--start", "9"], ["--start 9 is past the end", "give a start below"]),
    ("bad_start", ["--start", "soon"], ["--start 'soon' is not a time", "give one like"]),
]


@pytest.mark.parametrize("kind, flags, words", rows(BAD))
def test_a_bad_clip_is_one_line(kind, flags, words, tmp_path, clip, capsys, monkeypatch):
    from nst_helpers.cli import main
    forbidden = lambda *a, **k: (_ for _ in ()).throw(AssertionError("work started despite the bad input"))  # noqa: E731
    monkeypatch.setattr(stylise, "go", forbidden)
    monkeypatch.setattr(stylise, "load_backbone", forbidden)
    code = main(["video", "--content", str(_bad_clip(kind, tmp_path, clip)), "--style", STYLE,
                 "--out", str(tmp_path / "out"), *flags])
    assert_one_line_error(code, capsys.readouterr().err, *words)
    assert not (tmp_path / "out" / "video").exists()   # no folder made for a refused video


def test_resume_refuses_a_folder_that_is_no_video(tmp_path, capsys):
    from nst_helpers.cli import main
    code = main(["video", "--resume", str(tmp_path)])
    assert_one_line_error(code, capsys.readouterr().err, "is not an unfinished video's folder", "pass the folder")


def test_the_command_line_stylises_a_clip(clip, tmp_path, capsys):
    from nst_helpers.cli import main
    code = main(["video", "--content", str(clip), "--style", STYLE, "--size", "64", "--backbone", "efficientnet_lite0",
                 "--max-frames", "2", "--fps", "4", "--out", str(tmp_path), "--no-progress"])
    out = capsys.readouterr().out
    assert code == 0, out
    [folder] = (tmp_path / "video").iterdir()
    assert "2 frames: the first in" in out and "warping error" in out and str(folder) in out
    assert clips.probe(folder / "stylised.mp4").fps == 4.0 and (folder / "DONE").is_file()


def test_the_flicker_plot_ticks_whole_frames_only():
    rows = [{"frame": t, "warping_error": 1e-4 * t, "plain_warping_error": 1e-2} for t in (1, 2, 3)]
    fig = vf.flicker_figure(rows, 2e5)
    fig.draw_without_rendering()   # the locator picks the ticks at draw time
    ticks = [t for t in fig.axes[0].get_xticks() if 1 <= t <= 3]
    assert ticks and all(float(t).is_integer() for t in ticks), ticks


def test_the_generated_clip_keeps_max_frames(tmp_path, monkeypatch):
    """Notebook 07 stylised all 16 frames of the generated clip with max_frames = 10."""
    from nst_helpers import notebook
    from nst_helpers.notebook import video
    monkeypatch.setenv("NST_SMOKE", "0")
    monkeypatch.setattr(video, "VTEST", tmp_path / "no-such.avi")
    monkeypatch.setattr(video, "GENERATED", {"frames": 6, "size": 64})
    s = notebook.settings(outputs=str(tmp_path))
    assert video.choose_clip(None, 4, s)[1] == 4 and video.choose_clip(None, 30, s)[1] == 6
