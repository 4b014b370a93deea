"""A training run's folder, outputs/train/<timestamp>-<id>/, like a picture run's (runs/folders.py):

    config.json            the TrainConfig (written first: resume reads it), then the figures at the end
    checkpoint.pt          while unfinished: the model, Adam's state, the crops' generator, torch's RNG, history
    previews/step_00100.png   held-back photos (top) and the network's pictures of them (below)
    history.csv loss.png   the loss of every step, and its curve
    model.pt               the trained network (stylize.load_model), then DONE, last

Files are written atomically (core.files); a checkpoint is read with weights_only=True.
"""
import csv
import io
import json
from pathlib import Path

import torch

from ..core.images import resize_to, save_image
from ..runs import kind
from ..runs.folders import DONE, library_versions, mark_complete, new_run_dir, save_figure, save_tensors, write_text

CONFIG, CHECKPOINT, MODEL = "config.json", "checkpoint.pt", "model.pt"
FIELDS = ("step", "total", "content", "style", "tv", "seconds")
PREVIEW_HEIGHT = 160   # px: each picture's height in a preview strip


class TrainFolderError(ValueError):
    """A folder that is not an unfinished training run's, in one line with the fix."""


def path(folder) -> Path:
    """`folder` as a Path, checked to be an unfinished training run's."""
    folder = Path(folder)
    if not (folder / CONFIG).is_file() or not (folder / CHECKPOINT).is_file():
        raise TrainFolderError(f"{folder} is not an unfinished training run's folder (no {CONFIG} and {CHECKPOINT}); "
                               "pass the folder an interrupted `train` printed")
    if (folder / DONE).is_file():
        raise TrainFolderError(f"{folder} is a finished training run; its model is {folder / MODEL}")
    return folder


def new(cfg, out="outputs") -> Path:
    folder = new_run_dir("train", out)
    kind.mark(folder, kind.TRAINING)   # a grid named train shares out/train/: it leaves this folder alone
    write_text(folder / CONFIG, json.dumps({"config": cfg.to_dict(), "versions": library_versions()}, indent=2) + "\n")
    return folder


def checkpoint(folder, net, opt, g: torch.Generator, history: list) -> None:
    save_tensors(Path(folder) / CHECKPOINT, {"model": net.state_dict(), "optimizer": opt.state_dict(),
                                             "generator": g.get_state(), "torch_rng": torch.get_rng_state(),
                                             "history": history})


def restore(folder, net, opt, g: torch.Generator) -> list:
    """Put the checkpoint's states back into net, opt, g and torch's RNG; returns its history."""
    try:
        saved = torch.load(Path(folder) / CHECKPOINT, weights_only=True)
        net.load_state_dict(saved["model"])
        opt.load_state_dict(saved["optimizer"])
        g.set_state(saved["generator"])
        torch.set_rng_state(saved["torch_rng"])
    except Exception as err:   # a cut or foreign file: whatever torch raises, one line
        raise TrainFolderError(f"{Path(folder) / CHECKPOINT} cannot be read ({type(err).__name__}); "
                               "start the training again") from None
    return list(saved["history"])


def strip(photos: list, outputs: list) -> torch.Tensor:
    """(1, 3, 2h, W): the photos side by side over their outputs, each PREVIEW_HEIGHT high."""
    def row(images):
        return torch.cat([resize_to(x, (PREVIEW_HEIGHT, round(x.shape[-1] * PREVIEW_HEIGHT / x.shape[-2])))
                          for x in images], dim=-1)
    return torch.cat([row(photos), row(outputs)], dim=-2)


def preview(folder, net, held: list, step: int) -> Path:
    was = net.training
    net.eval()
    with torch.no_grad():
        outputs = [net(x) for x in held]
    net.train(was)
    return save_image(strip(held, outputs), Path(folder) / "previews" / f"step_{step:05d}.png")


def write_history(folder, history: list) -> None:
    text = io.StringIO(newline="")
    writer = csv.DictWriter(text, fieldnames=FIELDS, extrasaction="ignore")
    writer.writeheader()
    writer.writerows(history)
    write_text(Path(folder) / "history.csv", text.getvalue())


def smoothed(values: list, window: int = 20) -> list:
    """The running mean over the last `window` values (a batch's loss is noisy)."""
    out, total = [], 0.0
    for i, v in enumerate(values):
        total += v - (values[i - window] if i >= window else 0.0)
        out.append(total / min(i + 1, window))
    return out


def loss_figure(history: list, cfg):
    """The weighted loss terms against the step (log scale), each a running mean of 20 steps."""
    from matplotlib.figure import Figure
    fig = Figure(figsize=(7, 3.5), layout="constrained")
    ax = fig.subplots()
    steps = [r["step"] for r in history]
    for key, w in (("total", 1.0), ("content", cfg.content_weight), ("style", cfg.style_weight), ("tv", cfg.tv_weight)):
        ax.plot(steps, smoothed([w * r[key] for r in history]), label=key if key == "total" else f"{key} x weight")
    ax.set(yscale="log", xlabel="step", ylabel="loss (mean of 20 steps)", title="training loss")
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1), frameon=False)   # beside the curves, never on them
    return fig


def finish(folder, net, cfg, history: list, seconds: float) -> None:
    """model.pt, history.csv, loss.png and the figures in config.json; the checkpoint goes; DONE last."""
    from .stylize import save_model
    folder = Path(folder)
    last = smoothed([r["total"] for r in history])[-1]
    meta = {"style": Path(cfg.style).stem, "steps": cfg.steps, "size": cfg.size, "backbone": cfg.backbone,
            "final_loss": last}
    save_model(net, folder / MODEL, meta)
    write_history(folder, history)
    save_figure(loss_figure(history, cfg), folder / "loss.png")
    config = json.loads((folder / CONFIG).read_text())
    config["result"] = {"seconds": history[-1]["seconds"] if history else seconds, "final_loss": last}
    write_text(folder / CONFIG, json.dumps(config, indent=2) + "\n")
    (folder / CHECKPOINT).unlink(missing_ok=True)
    mark_complete(folder)
