"""The explorer's layout pieces: wide sliders, each paired with a typed entry, in columns that wrap.

A slider is for a quick look, an entry for an exact value: a 90 px log slider moved the style
weight from 1e6 to 1.8e8 in a 40 px drag. The slider takes the row's width (at least ~300 px of
track in a wide notebook); the entry beside it shows the real value (a log slider's own readout
would show the value, but takes track width) and accepts a typed one. The two are linked in the
kernel, both ways. The entry's range is the slider's, known to the kernel only: a browser that
knew it would turn a typed 5000 into 1024 before the kernel heard of it, and the panel could not
say that it did (form.watch_entries clamps it and says so). The columns wrap under each other in
a narrow JupyterLab panel.
"""
import ipywidgets as W
import traitlets

LABEL = {"description_width": "110px"}
ENTRY = {"width": "120px", "flex": "0 0 auto"}
# label 110 px + a track of at least ~200 px beside the entry; wider rows give it all their width
SLIDER_LAYOUT = {"flex": "1 1 340px", "width": "auto", "min_width": "240px"}
# too narrow for slider and entry side by side (~470 px): the entry wraps under the slider
ROW = {"width": "100%", "align_items": "center", "flex_flow": "row wrap", "justify_content": "flex-end"}
COLUMN = {"flex": "1 1 430px", "min_width": "0", "max_width": "640px"}
PICKER = dict(style=LABEL, layout={"width": "auto", "max_width": "520px"})  # dropdowns: the column's width
CHOOSER = dict(style=LABEL, layout={"flex": "1 1 auto", "width": "auto", "min_width": "0"})  # beside an upload


def slider(cls, **kw):
    """A slider that fills its row; no readout (the paired entry shows the value); the kernel
    hears of it when it is let go."""
    return cls(continuous_update=False, readout=False, style=LABEL, layout=SLIDER_LAYOUT, **kw)


class IntEntry(W.IntText):
    """An integer entry whose min/max the kernel keeps (not synced: the browser sends what was typed)."""
    min = traitlets.CInt(0)
    max = traitlets.CInt(100)


class FloatEntry(W.FloatText):
    """A number entry whose min/max the kernel keeps (not synced: the browser sends what was typed)."""
    min = traitlets.CFloat(0.0)
    max = traitlets.CFloat(1.0)


class LogEntry(FloatEntry):
    """A log slider's entry: three significant figures, as the slider keeps (linked, the two agree)."""

    @traitlets.validate("value")
    def _three_figures(self, proposal):
        return float(f"{proposal.value:.3g}")


def entry_for(s):
    """A typed entry with the slider's range (a log slider's min/max are exponents)."""
    if isinstance(s, W.FloatLogSlider):
        return LogEntry(min=s.base ** s.min, max=s.base ** s.max, value=s.value, layout=ENTRY)
    cls = IntEntry if isinstance(s, W.IntSlider) else FloatEntry
    return cls(min=s.min, max=s.max, value=s.value, layout=ENTRY)


class LogSlider(W.FloatLogSlider):
    """A log slider whose value is kept to three significant figures: a 25 px drag gave
    19952623.149688788, now 2e+07 (a typed value of three figures or fewer stays as typed)."""

    @traitlets.validate("value")
    def _validate_value(self, proposal):
        lo, hi = self.base ** self.min, self.base ** self.max
        return float(f"{min(max(proposal.value, lo), hi):.3g}")


def paired(s):
    """(row, entry): the slider and its entry side by side, linked both ways."""
    entry = entry_for(s)
    W.link((s, "value"), (entry, "value"))
    return W.HBox([s, entry], layout=ROW), entry


def columns(*cols):
    """Columns side by side in a wide panel, under each other in a narrow one (flex-wrap)."""
    return W.HBox([W.VBox(list(c), layout=COLUMN) for c in cols],
                  layout={"flex_flow": "row wrap", "width": "100%", "grid_gap": "0 24px"})
