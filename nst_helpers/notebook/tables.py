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


def weight_shares(rows: list, cfg) -> dict:
    """{layer: its weight's share of the preset's style weights}, w_l / sum(w): the balance the
    weights alone would give (rows: objective.layer_balance's, named by the preset's layers)."""
    total = sum(cfg.style_layers.get(r["layer"], 0.0) for r in rows) or 1.0
    return {r["layer"]: cfg.style_layers.get(r["layer"], 0.0) / total for r in rows}


def balance_markdown(rows: list, cfg=None) -> str:
    """objective.layer_balance rows as a markdown table: each layer's share of the style term
    under the seed's normalisation and under the size-independent one (and with cfg, the share
    its weight alone would give)."""
    weights = weight_shares(rows, cfg) if cfg is not None else None
    head = "| layer | backbone layer | C·H·W |" + (" share of the weights $w_l$ |" if weights else "")
    lines = [head + " share of the style term, seed's loss | share, size-independent loss |",
             "|---" * (5 + bool(weights)) + "|"]
    lines += [f"| `{r['layer']}` | `{r['own']}` | {r['chw']:,} |" + (f" {weights[r['layer']]:.1%} |" if weights else "")
              + f" {r['seed_share']:.1%} | {r['size_independent_share']:.1%} |" for r in rows]
    return "\n".join(lines)


def balance_summary(rows: list, cfg) -> str:
    """One line per normalisation: the layer holding the largest share of the style term, and
    the share its weight alone would give it."""
    weights, lines = weight_shares(rows, cfg), []
    for key, loss in (("seed_share", "seed's loss"), ("size_independent_share", "size-independent loss")):
        top = max(rows, key=lambda r: r[key])
        lines.append(f"{loss}: {top['layer']} ({top['own']}) holds {top[key]:.1%} of the style term "
                     f"(its weight alone would give it {weights[top['layer']]:.1%})")
    return "\n".join(lines)


def weight_changes(name: str) -> str:
    """How preset `name` differs from the baseline, one line per changed weight."""
    base, new = PRESET_TABLE["baseline"], PRESET_TABLE[name]
    labels = ("content weight", "style weight", *SEED_STYLE_LAYERS)
    return "\n".join(f"{lab:15}{_w(b):>5} -> {_w(n):<5}(x{n / b:.2g})" for lab, b, n in zip(labels, base, new) if b != n)
