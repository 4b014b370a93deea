"""What notebook 06 (the controls) runs and shows: one run per setting of a control, side by side,
the table of the controls, a made second "painting" to blend with, and each style layer's share
of the style term (what adaptive weights change)."""
import math

from pathlib import Path

import torch

from ..backbones import load_backbone
from ..backbones.layers import resolve_layers
from ..core import config as cfgmod
from ..core.images import resize_to
from ..core.objective import StyleObjective
from ..core.progress import progress_bar
from ..core.transfer import run

CONTROLS = {   # field: (what it does, its values)
    "preserve_colour": ("keep the photo's colours", cfgmod.PRESERVE_COLOUR),
    "stroke_size": ("the style image's size relative to the photo's", "above 0, at most 8"),
    "style_blend": ("weights of several style images (their Gram targets blend)", "one weight >= 0 each"),
    "init": ("what the image starts as", cfgmod.INITS),
    "adaptive_weights": ("each layer's weight as its share of the style term at the photo", cfgmod.ADAPTIVE_WEIGHTS),
    "pooling": ("VGG19's pooling (Gatys et al. chose avg)", ("max", "avg")),
    "masks": ("where each style goes (a run argument, --mask)", "one mask per style"),
    "tile_size": ("big pictures: levels larger than a tile run in tiles (VGG19)", "0 (off), or px, a multiple of 16"),
}


def controls_table() -> str:
    """The controls as plain text, narrow enough for a notebook's output: each field with its
    default and values, and under it what it does."""
    d = cfgmod.StyleConfig()
    lines = []
    for field, (what, values) in CONTROLS.items():
        shown = values if isinstance(values, str) else " | ".join(values)
        lines += [f"{field} (default {getattr(d, field, None)!r}): {shown}", f"    {what}"]
    return "\n".join(lines)


def stripes(size: int = 256, period: int = 16) -> torch.Tensor:
    """A made "painting": bold red and cream diagonal stripes, (1, 3, size, size). Its Gram
    matrices are a texture's that no photo has, so a blend with it is easy to see."""
    y, x = torch.meshgrid(torch.arange(size), torch.arange(size), indexing="ij")
    wave = (torch.sin((x + y).float() * 2 * math.pi / period) > 0).float()
    red, cream = torch.tensor([0.75, 0.1, 0.1]), torch.tensor([0.95, 0.9, 0.75])
    return (wave[None] * red.view(3, 1, 1) + (1 - wave[None]) * cream.view(3, 1, 1)).unsqueeze(0)


_DONE: dict = {}   # (config, image files and their times, network) -> TransferResult: a run shown twice runs once


def _run_once(cfg, content, images, net, masks):
    """run(...), or the result of the same run earlier in this kernel (plain image files, no masks)."""
    files = [content, *(images if isinstance(images, (list, tuple)) else [images])]
    if masks is not None or not all(isinstance(f, (str, Path)) for f in files):
        return run(content, images, cfg, backbone=net, progress=False, masks=masks)
    key = (repr(cfg), tuple((str(f), Path(f).stat().st_mtime_ns) for f in files), id(net))
    if key not in _DONE:
        _DONE[key] = run(content, images, cfg, backbone=net, progress=False)
    return _DONE[key]


def variants(s, net, changes: dict, content=None, style=None) -> dict:
    """{label: TransferResult} for each {label: {config field: value}} under settings `s` (its
    fast or seed recipe; the images are s.content and s.style unless given; a change may carry
    "style": several images to blend, and "masks": one per style). A change of pooling or backbone
    runs on that network (loaded once). A run already made (the plain run each section starts
    with) is not made again: its label shares the result. One progress bar over the runs."""
    base = s.config()
    bar = progress_bar(total=len(changes), desc="runs", unit="run")
    out, nets = {}, {(base.backbone, base.pooling): net}
    for label, change in changes.items():
        change = dict(change)
        images, masks = change.pop("style", style if style is not None else s.style), change.pop("masks", None)
        cfg = base.replace(**change)
        key = (cfg.backbone, cfg.pooling)
        nets[key] = nets.get(key) or load_backbone(cfg.backbone, pooling=cfg.pooling, verbose=False)
        bar.set_postfix(now=label)
        out[label] = _run_once(cfg, content if content is not None else s.content, images, nets[key], masks)
        bar.update(1)
    bar.set_postfix()
    bar.close()
    return out


def images_of(results: dict, first: dict | None = None) -> dict:
    """{label: image} for notebook.image_grid: `first` (e.g. the photo and the painting), then the results."""
    return {**(first or {}), **{label: r.image for label, r in results.items()}}


def layer_shares(net, cfg, content, style) -> str:
    """A markdown table: each style layer's share of the style term at the photo, with and without
    adaptive weights (the layers' own scales differ by orders of magnitude; the weights do not)."""
    rows = {}
    for mode in ("off", "initial"):
        objective = StyleObjective(net, cfg.replace(adaptive_weights=mode), content, resize_to(style, content.shape[-2:]))
        terms = objective.layer_terms(content)
        weighted = {k: objective.style_weights[k] * v for k, v in terms.items()}
        rows[mode] = {k: v / (sum(weighted.values()) or 1.0) for k, v in weighted.items()}
    names = {resolve_layers(net, [name])[0]: name for name in cfg.style_layers}   # the backbone's -> VGG19's
    head = "| adaptive_weights | " + " | ".join(f"{names[k]} (weight {cfg.style_layers[names[k]]:g})"
                                                  for k in rows["off"]) + " |"
    sep = "|---" * (len(rows["off"]) + 1) + "|"
    body = [f"| {mode} | " + " | ".join(f"{v:.2f}" for v in r.values()) + " |" for mode, r in rows.items()]
    return "\n".join([head, sep, *body])



def distinct(rows: dict, results: dict) -> dict:
    """`rows` ({label: metrics}) with each run once: labels that share a result (the run without
    any control, shown in several sections) become one row, 'without a control (off, stroke 1, …)'."""
    names: dict = {}
    for label, r in results.items():
        names.setdefault(id(r), []).append(label)
    return {(f"without a control ({', '.join(labels)})" if len(labels) > 1 else labels[0]): rows[labels[0]]
            for labels in names.values()}


def measure(results: dict, net, style=None) -> dict:
    """{label: nst_helpers.metrics of the run} for `results` ({label: TransferResult}), all measured
    with `net` against the run's photo and `style` (default: each run's first style image), so that
    a control's row reads against the row without it (compare.metrics_markdown shows them)."""
    from ..runs import metrics
    done = {}   # a result shared by several labels is measured once
    for r in results.values():
        if id(r) not in done:
            done[id(r)] = metrics.measure(r.image, r.content, style if style is not None else r.style, net, r.history)
    return {label: done[id(r)] for label, r in results.items()}


# What each control should do, checked on the measured rows: (words, test). Verdicts, not numbers,
# so that a notebook's checked cell reads the same on every CPU (the numbers are in the table).
PROPERTIES = (
    ("luminance keeps the photo's colours (chroma change under a tenth of the run without it)",
     lambda m, chroma: chroma["luminance"] < 0.1 * chroma["off"]),
    ("every colour control keeps colours further from the painting's than the run without it",
     lambda m, chroma: min(m[k]["colour_distance"] for k in ("luminance", "match", "histogram")) > m["off"]["colour_distance"]),
    ("larger strokes leave less fine speckle (stroke 2 against stroke 0.5)",
     lambda m, chroma: m["stroke 2"]["hf_energy"] < m["stroke 0.5"]["hf_energy"]),
    ("a half-and-half blend lies between the two paintings (Gram distance to the first)",
     lambda m, chroma: m["first painting"]["gram_distance"] < m["0.5 / 0.5"]["gram_distance"] < m["second"]["gram_distance"]),
    ("a noise start leaves the most total variation of the starts",
     lambda m, chroma: m["noise"]["tv"] > max(m[k]["tv"] for k in ("content", "gray", "fast's own"))),
    ("the photo as the start keeps more of its structure than grey (SSIM)",
     lambda m, chroma: m["content"]["ssim"] > m["gray"]["ssim"]),
    ("styling the background only keeps more of the photo than styling everywhere (SSIM)",
     lambda m, chroma: m["background only"]["ssim"] > m["everywhere"]["ssim"]),
    ("average pooling gives smoother strokes than max pooling (less fine speckle)",
     lambda m, chroma: m["avg pooling"]["hf_energy"] < m["max pooling"]["hf_energy"]),
)


def what_each_did(rows: dict, results: dict, photo) -> str:
    """One line per PROPERTIES entry: 'yes' or 'no', from the measured `rows` and the runs."""
    from ..core import preserve
    chroma = {k: (preserve.to_yiq(results[k].image) - preserve.to_yiq(photo))[:, 1:].abs().mean().item()
              for k in ("off", "luminance")}
    return "\n".join(f"{'yes' if test(rows, chroma) else 'NO '}  {words}" for words, test in PROPERTIES)


def other_weights(net) -> tuple[dict, str]:
    """({label: config change}: the run on the VGG19 weights `net` does not have, where they are
    here, and a note saying what is shown. torchvision's download is never tried."""
    from ..backbones import vgg
    if net.name == "vgg19":
        return {"original weights": {"backbone": "vgg19_original"}}, ""
    if net.name == "vgg19_original" and vgg.cached_weights_path() is not None:
        return {"torchvision's weights": {"backbone": "vgg19"}}, ""
    return {}, (f"torchvision's VGG19 weights are not on this machine ({vgg.WEIGHTS_FILE}, downloaded once with a "
                "network), so only the original weights are shown; with them, this cell shows both.")


def judge_table(results: dict, style, optimised_on: str, digits: int = 3) -> str:
    """A markdown table of the quality benchmark's four numbers (runs/judge.py: style, colour,
    structure, noise) for each run, judged by a network the runs did not optimise, against `style`."""
    from ..runs import judge
    net = load_backbone(judge.judge_backbone_name(optimised_on), verbose=False)
    rows = ["| run | style (0 = the painting's) | colour (1 = the photo's) | structure | noise |", "|---|---|---|---|---|"]
    shared = distinct({label: label for label in results}, results)   # {row label: a label of its run}
    for label, r in ((row, results[first]) for row, first in shared.items()):
        got = judge.judge(r.image, r.content, style, net)
        rows.append(f"| {label} | " + " | ".join(f"{got[k]:.{digits}g}" for k in ("style", "colour", "structure", "noise")) + " |")
    return "\n".join(rows)


def big_picture(s, net, size: int, tile_size: int, steps: int | None = None):
    """The bundled pair (s.content, s.style) at `size` px in tiles of `tile_size` (recipes.big, the
    fast recipe on a 5-level pyramid): the memory estimate printed first, then (TransferResult,
    "what it took": seconds, and the kernel's peak resident memory against the estimate)."""
    from ..core import memory, recipes
    cfg = cfgmod.preset("fast", backbone=net.name, **recipes.big(size, tile_size))
    cfg = cfg if steps is None else cfg.replace(steps=steps)   # fewer: the pyramid keeps its proportions
    print(f"estimate: {memory.in_words(cfg, net.name, s.content)}")
    before = memory.resident_bytes(peak=False)
    result = run(s.content, s.style, cfg, backbone=net, progress=True)
    peak = memory.resident_bytes()
    h, w = result.image.shape[-2:]
    return result, (f"{w}x{h} px in {result.seconds / 60:.1f} min ({len(result.history)} steps, {result.stop_reason}); "
                    f"peak resident memory {peak / 2**30:.2f} GiB, {(peak - before) / 2**30:.2f} GiB above the "
                    "kernel's before the run")
