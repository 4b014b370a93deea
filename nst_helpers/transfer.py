"""The optimisation loop: `run(content, style, config)` -> TransferResult.

The target image is optimised in ImageNet-normalised units z = (x - mean) / std, the
space the seed's Adam learning rate was chosen in; x = z * std + mean is what the
backbone sees, clamped to [0, 1] after every step. The loop knows no screen: it reports
through callbacks (live plots, widgets) and an optional tqdm progress bar.

Speed (benchmarks/README.md has the figures): images enter the backbone channels_last, and
L-BFGS never pays twice for one point (its line search ends where the next step starts).
"""
import contextlib
import time
from dataclasses import dataclass, field

import torch

from . import images, losses, optim
from .backbones import load_backbone, resolve_layers
from .config import StyleConfig

MEAN = torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1)
STD = torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1)


@dataclass
class TransferResult:
    """image: (1, 3, H, W) in [0, 1] on the CPU; snapshots: {step: image}; history: one dict per
    step, losses evaluated at the image before that step's update; "style" already includes the
    backbone's style_scale, so total = content_weight*content + style_weight*style + tv_weight*tv."""

    image: torch.Tensor
    history: list
    snapshots: dict
    config: StyleConfig
    backbone: str
    device: str
    stop_reason: str = "completed"   # completed | early_stop | stopped | interrupted | diverged
    seconds: float = 0.0
    content: torch.Tensor | None = field(default=None, repr=False)
    style: torch.Tensor | None = field(default=None, repr=False)


def pick_device(device: str | None = None) -> torch.device:
    """The given device, else cuda, else mps, else cpu."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def autocast_for(device: torch.device, enabled: bool):
    """bf16 autocast on CPU/CUDA with bf16 (fp16 otherwise); a no-op when disabled or on a
    CPU without native bf16 (there it would be emulated, slower than fp32)."""
    if not enabled or (device.type == "cpu" and not torch.ops.mkldnn._is_mkldnn_bf16_supported()):
        return contextlib.nullcontext()
    if device.type == "cuda" and not torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.float16)
    return torch.autocast(device.type, dtype=torch.float16 if device.type == "mps" else torch.bfloat16)


def _as_image(source, size: int) -> torch.Tensor:
    """A tensor, path, PIL image or array -> (1, 3, H, W) with the longest side `size`."""
    if isinstance(source, torch.Tensor):
        source = source if source.dim() == 4 else source.unsqueeze(0)
        h, w = source.shape[-2:]
        s = size / max(h, w)
        return images.resize_to(source.float(), (max(1, round(h * s)), max(1, round(w * s))))
    return images.load_image(source, max_size=size)


@torch.no_grad()
def _project(z: torch.Tensor, lo: torch.Tensor, hi: torch.Tensor) -> None:
    """Clamp z (1, 3, H, W) in place to [lo, hi] per channel; an in-range z is left untouched."""
    if (z < lo).any() or (z > hi).any():
        z.copy_(torch.maximum(torch.minimum(z, hi), lo))


def _nhwc(image: torch.Tensor) -> torch.Tensor:
    """channels_last copy: EfficientNet-Lite0 steps about a fifth faster on a CPU, VGG19 no slower."""
    return image.contiguous(memory_format=torch.channels_last)


def run(content, style, config: StyleConfig | None = None, callbacks=(), callback_every: int = 10,
        backbone=None, device=None, progress: bool = True, stop_event=None) -> TransferResult:
    """Stylise `content` with `style` (paths, PIL images, arrays or (1,3,H,W) tensors in [0,1]).

    callbacks: callables f(step, losses_dict, image) called every `callback_every` steps and
    at the end; image is a detached (1,3,h,w) CPU tensor. stop_event: anything with is_set()
    (threading.Event); when set, the run ends after the current step. Ctrl-C / the notebook's
    interrupt also ends it and returns what exists so far.
    """
    cfg = config or StyleConfig()
    dev = pick_device(device)
    net = (backbone or load_backbone(cfg.backbone, pooling=cfg.pooling)).to(dev)
    torch.manual_seed(cfg.seed)
    content_full, style_full = _as_image(content, cfg.size), _as_image(style, cfg.size)
    if min(content_full.shape[-2:]) < net.min_size:
        raise ValueError(f"content image is {tuple(content_full.shape[-2:])} at size={cfg.size}; "
                         f"{net.name} needs at least {net.min_size} px per side: raise size")
    style_weights, content_layer = {}, resolve_layers(net, [cfg.content_layer])[0]
    for seed_name, w in cfg.style_layers.items():
        own = resolve_layers(net, [seed_name])[0]
        style_weights[own] = style_weights.get(own, 0.0) + w
    layers = sorted({content_layer, *style_weights}, key=net.layer_names.index)
    mean, std = MEAN.to(dev), STD.to(dev)
    sizes = optim.pyramid_sizes(cfg.size, cfg.scales)
    budgets = optim.split_steps(cfg.steps, cfg.scales, cfg.scale_steps)
    result = TransferResult(content_full, [], {}, cfg, net.name, str(dev), content=content_full, style=style_full)
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=cfg.steps, desc=f"{cfg.name} on {net.name}", unit="step")
    t0, step, x = time.perf_counter(), 0, None
    try:
        for scale, (size, budget) in enumerate(zip(sizes, budgets)):
            h, w = content_full.shape[-2:]
            hw = (max(1, round(h * size / cfg.size)), max(1, round(w * size / cfg.size)))
            content_s = images.resize_to(content_full, hw).to(dev)
            style_s = images.resize_to(style_full, hw).to(dev)
            with torch.no_grad(), autocast_for(dev, cfg.mixed_precision):
                c_target = net(_nhwc(content_s), [content_layer])[content_layer].float()
                s_feats = net(_nhwc(style_s), list(style_weights))
                grams = {k: losses.gram_matrix(v) for k, v in s_feats.items()}
            if x is None and cfg.init == "noise":
                x = torch.rand(1, 3, *hw, generator=torch.Generator().manual_seed(cfg.seed)).to(dev)
            elif x is None:
                x = content_s if cfg.init == "content" else style_s
            else:
                x = images.resize_to(x, hw)
            z = ((x - mean) / std).detach().requires_grad_(True)
            lo, hi = (0 - mean) / std, (1 - mean) / std
            opt = optim.make_optimizer(cfg.optimizer, [z], cfg.lr)
            sched = optim.make_scheduler(cfg.lr_schedule, opt, budget)
            stopper = optim.EarlyStopping(cfg.early_stop_window, cfg.early_stop_tol)
            memo = {}  # L-BFGS: the last evaluation, {z, grad, total, parts}
            for _ in range(budget):
                row = {}

                def closure():
                    _project(z, lo, hi)  # L-BFGS's line search points too: it searches in range
                    if memo and torch.equal(memo["z"], z):  # the line search's last point: reuse
                        z.grad, total, parts = memo["grad"].clone(), memo["total"], memo["parts"]
                    else:
                        opt.zero_grad(set_to_none=True)
                        img = z * std + mean
                        with autocast_for(dev, cfg.mixed_precision):
                            feats = net(_nhwc(img), layers)
                        c = losses.content_loss(feats[content_layer], c_target)
                        s = losses.style_loss(feats, grams, style_weights) * net.style_scale
                        tv = losses.total_variation(img) if cfg.tv_weight else torch.zeros((), device=dev)
                        total = cfg.content_weight * c + cfg.style_weight * s + cfg.tv_weight * tv
                        total.backward()
                        total, parts = total.detach(), dict(content=c.item(), style=s.item(), tv=tv.item())
                        if cfg.optimizer == "lbfgs":
                            memo.update(z=z.detach().clone(), grad=z.grad.clone(), total=total, parts=parts)
                    if not row:  # L-BFGS may evaluate several times: keep the step's first
                        row.update(total=total.item(), **parts)
                    return total

                lr_now = opt.param_groups[0]["lr"]
                opt.step(closure)
                _project(z, lo, hi)
                step += 1
                row.update(step=step, lr=lr_now, elapsed=time.perf_counter() - t0, size=size, event="")
                result.history.append(row)
                if not torch.isfinite(torch.tensor(row["total"])):
                    row["event"], result.stop_reason = "diverged", "diverged"
                    break
                optim.scheduler_step(sched, row["total"])
                last_of_scale = stopper.should_stop(row["total"])
                x = (z.detach() * std + mean).clamp(0, 1)
                if step % cfg.snapshot_every == 0:
                    result.snapshots[step] = x.cpu()
                if callbacks and step % callback_every == 0:
                    for cb in callbacks:
                        cb(step, row, x.cpu())
                if bar is not None:
                    bar.update(1)
                    bar.set_postfix(loss=f"{row['total']:.4g}", size=size)
                if stop_event is not None and stop_event.is_set():
                    result.stop_reason = row["event"] = "stopped"
                    break
                if last_of_scale:
                    row["event"] = "early_stop"
                    if scale == len(sizes) - 1:
                        result.stop_reason = "early_stop"
                    break
            if result.stop_reason in ("stopped", "diverged"):
                break
    except KeyboardInterrupt:
        result.stop_reason = "interrupted"
    finally:
        if bar is not None:
            bar.close()
    if x is not None:
        result.image = x.detach().clamp(0, 1).cpu()
        result.snapshots.setdefault(step, result.image)
        if callbacks and result.history and step % callback_every != 0:
            for cb in callbacks:
                cb(step, result.history[-1], result.image)
    result.seconds = time.perf_counter() - t0
    return result
