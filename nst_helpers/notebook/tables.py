"""The seed's tables as text for the notebooks: the experiment matrix, the presets' layers (how
much of the image each sees, what it responds to), the layer balance of the two Gram
normalisations, a preset's changes."""
from ..backbones.layers import VGG19_LAYERS, lite_style_layer_map
from ..core.config import PRESET_DESCRIPTIONS, PRESET_TABLE, SEED_STYLE_LAYERS
from .compare import EXPERIMENTS

# What each VGG19 layer of the presets responds to (Gatys et al. 2016, Fig. 1 and 2); how much
# of the image it sees is receptive_field's (notebook 00's section 1 repeats both: a test compares).
LAYER_NOTES = {
    "conv1_1": "colours and the finest edges",
    "conv2_1": "small strokes and textures",
    "conv3_1": "texture motifs a few strokes wide",
    "conv4_1": "larger patterns and parts of objects",
    "conv5_1": "the largest, most abstract arrangements",
    "conv4_2": "object layout (the content layer)",
}


def receptive_field(layer: str) -> int:
    """The side in px of the image patch one unit of VGG19's `layer` sees (its receptive field):
    3 for conv1_1, a 3x3 convolution of the pixels; each later 3x3 convolution adds two units of
    the layer below, each 2x2 pooling one, and a unit after k poolings spans 2^k px."""
    side, px_per_unit = 1, 1
    for name in VGG19_LAYERS:
        if name.startswith("conv"):
            side += 2 * px_per_unit
        elif name.startswith("pool"):
            side += px_per_unit
            px_per_unit *= 2
        if name == layer:
            return side
    raise ValueError(f"{layer!r} is not a VGG19 layer")


def _w(v: float) -> str:
    """A weight as the seed writes it: 1e6, 5e5, 0.54."""
    return f"{v:.0e}".replace("e+0", "e") if v >= 1000 else f"{v:g}"


def preset_table(names=EXPERIMENTS) -> str:
    """The seed's experiment matrix (weights and expectation) as a fixed-width text table."""
    head = f"{'preset':9}{'content':>8}{'style':>8}" + "".join(f"{n:>8}" for n in SEED_STYLE_LAYERS) + "  seed's expectation"
    lines = [head]
    for name in names:
        cw, sw, *lw = PRESET_TABLE[name]
        expect = PRESET_DESCRIPTIONS[name].split(": ")[-1]
        lines.append(f"{name:9}{_w(cw):>8}{_w(sw):>8}" + "".join(f"{w:>8g}" for w in lw) + f"  {expect}")
    return "\n".join(lines)


def layer_table() -> str:
    """The presets' VGG19 layers, how much of the image each sees and what it responds to, and the
    EfficientNet-Lite0 layer standing in for each."""
    rows = [f"{'VGG19':9}{'role':9}{'sees':8}{'responds to':42}efficientnet_lite0"]
    for name in (*SEED_STYLE_LAYERS, "conv4_2"):
        role = "content" if name == "conv4_2" else "style"
        sees = f"{receptive_field(name)} px"
        rows.append(f"{name:9}{role:9}{sees:8}{LAYER_NOTES[name]:42}{lite_style_layer_map(0)[name]}")
    return "\n".join(rows)


def balance_markdown(rows: list) -> str:
    """objective.layer_balance rows as a markdown table: each layer's share of the style term
    under the seed's normalisation and under the size-independent one."""
    lines = ["| layer | backbone layer | C·H·W | share of the style term, seed's loss | "
             "share, size-independent loss |", "|---|---|---|---|---|"]
    lines += [f"| `{r['layer']}` | `{r['own']}` | {r['chw']:,} | {r['seed_share']:.1%} | "
              f"{r['size_independent_share']:.1%} |" for r in rows]
    return "\n".join(lines)


def weight_changes(name: str) -> str:
    """How preset `name` differs from the baseline, one line per changed weight."""
    base, new = PRESET_TABLE["baseline"], PRESET_TABLE[name]
    labels = ("content weight", "style weight", *SEED_STYLE_LAYERS)
    return "\n".join(f"{lab:15}{_w(b):>5} -> {_w(n):<5}(x{n / b:.2g})" for lab, b, n in zip(labels, base, new) if b != n)
