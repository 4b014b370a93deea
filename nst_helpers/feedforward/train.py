"""Training a transformation network for one painting (Johnson et al. 2016): the package's own
content, style (Gram) and total-variation losses on a loss network, Adam, random crops of a photo
set; checkpoints, resume and previews in a run folder (folder.py).

    result = train(TrainConfig(style="images/style.jpg", steps=600))
    result.folder / "model.pt"     # stylize.load_model(...) reads it

Per step: a batch of crops x (B, 3, S, S) -> y = net(x); loss = content_weight * content(y, x at
the content layer) + style_weight * style_scale * style(y, the painting's Gram matrices) +
tv_weight * tv(y). Everything random (the network's start, the crops) comes from the seed, and a
checkpoint keeps the optimiser's and the crops' generator's states: on a CPU, a resumed run ends
with the same weights as one never interrupted.
"""
import dataclasses
import json
import time
from dataclasses import dataclass, field

import torch

from ..backbones import load_backbone
from ..backbones.layers import resolve_layers
from ..core import losses
from ..core.images import load_image
from ..core.objective import nhwc, style_scale, tv_scale
from ..core.config import seed_problem
from ..core.progress import progress_bar
from ..core.recipes import FAST_STYLE_LAYERS
from . import folder as runfolder
from .data import load_photos
from .net import TransformNet, shape_problem


@dataclass
class TrainConfig:
    """What a training run needs; everything in config.json, so a run folder is resumed from it."""
    style: str                      # the painting's path
    data: str | None = None         # a folder of photos; None: data.bundled_photos()
    steps: int = 300
    size: int = 192                 # px: the side of the square training crops
    batch: int = 2
    width: int = 16                 # net.TransformNet's width (Johnson et al.: 32)
    blocks: int = 5
    backbone: str = "efficientnet_lite0"   # the loss network; about 20x cheaper a step than VGG19 here
    style_size: int = 512           # px: the painting's longest side for its Gram matrices (the stroke size
                                    # at a 512 px picture)
    content_weight: float = 3.0     # 1 lost the octopus to udnie's shapes (structure 0.13; 3: 0.53)
    style_weight: float = 1e6       # x the backbone's style_scale (3e6 took more style, less structure: 0.29)
    tv_weight: float = 100.0
    style_layers: dict = field(default_factory=lambda: dict(FAST_STYLE_LAYERS))
    content_layer: str = "conv3_1"   # conv4_2 kept too little of the photo's edges (structure 0.005 on octopus+udnie)
    lr: float = 1e-3
    seed: int = 0
    checkpoint_every: int = 100
    preview_every: int = 100

    def __post_init__(self):
        for name in ("steps", "size", "batch", "width", "style_size", "checkpoint_every", "preview_every"):
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"{name} must be a whole number >= 1, got {value!r}")
        if self.size < 32:
            raise ValueError(f"size must be at least 32 px (the loss network's smallest input), got {self.size}")
        if problem := shape_problem(self.width, self.blocks):
            raise ValueError(f"{problem}; Johnson et al.'s network has width 32 and 5 blocks")
        if problem := seed_problem(self.seed):
            raise ValueError(f"seed {problem}")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> "TrainConfig":
        return cls(**{k: v for k, v in d.items() if k in {f.name for f in dataclasses.fields(cls)}})


@dataclass
class TrainResult:
    folder: object
    net: TransformNet
    history: list           # [{step, total, content, style, tv, seconds}], one row a step
    stop_reason: str        # "completed", "stopped" (stop_event) or "interrupted" (KeyboardInterrupt)
    seconds: float          # training time of this call (a resumed run: since the resume)


class PerceptualLoss:
    """The training loss for one painting on a loss network: loss(y, x) -> (total, {content, style, tv})
    for outputs y and photos x (B, 3, S, S). The painting's Gram matrices are computed once."""

    def __init__(self, backbone, cfg: TrainConfig, style: torch.Tensor):
        self.net, self.cfg = backbone, cfg
        self.content_layer = resolve_layers(backbone, [cfg.content_layer])[0]
        self.weights = {}
        for name, w in cfg.style_layers.items():   # VGG19 names -> the backbone's; two may meet in one
            own = resolve_layers(backbone, [name])[0]
            self.weights[own] = self.weights.get(own, 0.0) + w
        self.layers = sorted({self.content_layer, *self.weights}, key=backbone.layer_names.index)
        self.style_scale, self.tv_scale = style_scale(backbone, "size_independent"), tv_scale(backbone)
        with torch.no_grad():
            feats = backbone(nhwc(style), list(self.weights))
        self.grams = {k: losses.gram_matrix(v) for k, v in feats.items()}   # (1, C, C) each

    def __call__(self, y: torch.Tensor, x: torch.Tensor) -> tuple[torch.Tensor, dict]:
        cfg, n = self.cfg, y.shape[0]
        with torch.no_grad():
            target = self.net(nhwc(x), [self.content_layer])[self.content_layer]
        feats = self.net(nhwc(y), self.layers)
        c = losses.content_loss(feats[self.content_layer], target)
        grams = {k: g.expand(n, -1, -1) for k, g in self.grams.items()}
        s = losses.style_loss(feats, grams, self.weights) * self.style_scale
        tv = losses.total_variation(y) * self.tv_scale
        total = cfg.content_weight * c + cfg.style_weight * s + cfg.tv_weight * tv
        return total, {"content": c, "style": s, "tv": tv}


def setup(cfg: TrainConfig, backbone=None):
    """(network, optimiser, generator, loss, photo set, held-back photos) at step 0 for `cfg`."""
    photos, held = load_photos(cfg.data, cfg.size)   # a bad photo set is refused before the backbone loads
    backbone = backbone if backbone is not None else load_backbone(cfg.backbone)
    style = load_image(cfg.style, max_size=cfg.style_size)
    torch.manual_seed(cfg.seed)
    net = TransformNet(cfg.width, cfg.blocks)
    opt = torch.optim.Adam(net.parameters(), lr=cfg.lr)
    g = torch.Generator().manual_seed(cfg.seed)
    return net, opt, g, PerceptualLoss(backbone, cfg, style), photos, held


def train(cfg: TrainConfig, out="outputs", backbone=None, progress: bool = True, stop_event=None,
          resume=None) -> TrainResult:
    """Train (or, resume=<run folder>, go on training) a network; writes and returns its run folder."""
    if resume is not None:
        cfg = TrainConfig.from_dict(json.loads((runfolder.path(resume) / runfolder.CONFIG).read_text())["config"])
    net, opt, g, loss_fn, photos, held = setup(cfg, backbone)
    folder = runfolder.path(resume) if resume is not None else runfolder.new(cfg, out)
    history = runfolder.restore(folder, net, opt, g) if resume is not None else []
    start = len(history)
    bar = progress_bar(total=cfg.steps, desc="train", unit="step", initial=start) if progress else None
    t0, reason = time.perf_counter(), "completed"
    try:
        for step in range(start + 1, cfg.steps + 1):
            row = _step(net, opt, g, loss_fn, photos, cfg.batch)
            history.append({"step": step, **row, "seconds": time.perf_counter() - t0})
            _tick(bar, history, cfg.steps, start)
            if step % cfg.preview_every == 0 or step == cfg.steps:
                runfolder.preview(folder, net, held, step)
            if stop_event is not None and stop_event.is_set() and step < cfg.steps:
                reason = "stopped"
                break
            if step % cfg.checkpoint_every == 0 and step < cfg.steps:
                runfolder.checkpoint(folder, net, opt, g, history)
    except KeyboardInterrupt:
        reason = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    seconds = time.perf_counter() - t0
    if reason == "completed":
        runfolder.finish(folder, net, cfg, history, seconds)
    else:
        runfolder.checkpoint(folder, net, opt, g, history)
    return TrainResult(folder, net.eval(), history, reason, seconds)


def _step(net, opt, g, loss_fn, photos, batch: int) -> dict:
    """One Adam step on a fresh batch of crops: the losses as floats."""
    net.train()
    x = photos.batch(batch, g)
    opt.zero_grad(set_to_none=True)
    total, parts = loss_fn(net(x), x)
    total.backward()
    opt.step()
    return {"total": total.item(), **{k: v.item() for k, v in parts.items()}}


def _tick(bar, history: list, steps: int, start: int) -> None:
    """The bar's step, with the loss (mean of the last 20 steps: one batch's is noisy) and the time left."""
    if bar is None:
        return
    recent = [r["total"] for r in history[-20:]]
    done, spent = len(history) - start, history[-1]["seconds"]
    left = spent / done * (steps - len(history))
    bar.update(1)
    bar.set_postfix(loss=f"{sum(recent) / len(recent):.4g}", left=f"{left:.0f} s")
