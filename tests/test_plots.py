"""Loss plots: the y axis spans where the curves live, and legends carry rounded factors."""
import math

import pytest
import torch

from nst_helpers.runs import plots
from nst_helpers.core.config import preset
from nst_helpers.notebook.live import LiveLossPlot


def history(content_start=1e-11, steps=40):
    """Rows like a run from the photo: content ~0 at step 1, then ~0.5..5; style falling 10-fold."""
    rows = []
    for i in range(1, steps + 1):
        content = content_start if i == 1 else 5.0 * (1 - math.exp(-i / 5))
        style = 1e-7 * (1 + 9 * math.exp(-i / 8))
        rows.append(dict(step=i, content=content, style=style, total=content + 1.77828e8 * style, size=64))
    return rows


CFG = preset("fast", backbone="efficientnet_lite0", style_weight=1.77828e8, tv_weight=0.0)   # content weight 1


def decades(ax):
    lo, hi = ax.get_ylim()
    return math.log10(hi) - math.log10(lo)


def legend(ax):
    return [t.get_text() for t in ax.get_legend().get_texts()]


@pytest.mark.parametrize("start", [1e-11, 0.0, -1e-12])
def test_the_axis_skips_a_start_far_below_the_curve(start):
    h = history(start)
    ax = plots.loss_figure(h, CFG).axes[0]
    lo, hi = ax.get_ylim()
    later = [r["content"] for r in h[1:]] + [r["total"] for r in h]
    assert lo <= min(later) and hi >= max(later)     # every point that matters is on the axis
    assert lo > 1e-2 and decades(ax) < 4             # not 14 decades down to the photo's start
    content_line = ax.get_lines()[1]
    assert math.isnan(content_line.get_ydata()[0]) and not math.isnan(content_line.get_ydata()[1])


def test_a_curve_that_really_falls_keeps_its_whole_range():
    h = [dict(step=i, content=1.0, style=10.0 ** -i, total=1.0 + 10.0 ** (5 - i), size=64) for i in range(1, 6)]
    curves = [plots.visible(v) for v in plots.weighted_terms(h, preset("fast", style_weight=1e5, tv_weight=0.0)).values()]
    assert not any(math.isnan(v) for c in curves for v in c)   # a 10^4 fall is data, not a start to skip
    lo, hi = plots.loss_limits(curves)
    assert lo < 1.0 and hi > 1e4 + 1 and lo > 0.3 and hi < 3e4  # a small margin, no more


def test_limits_of_a_flat_or_empty_curve():
    lo, hi = plots.loss_limits([[2.0, 2.0, 2.0]])
    assert lo < 2.0 < hi and math.log10(hi / lo) == pytest.approx(0.2)
    assert plots.loss_limits([[float("nan")]]) is None
    assert all(math.isnan(v) for v in plots.visible([0.0, -1.0]))


@pytest.mark.parametrize("x, text", [(1.77828e8, "1.8e8"), (1e6, "1e6"), (5e5, "5e5"), (0.5, "0.5"), (0.54, "0.54"),
                                     (1, "1"), (2.0, "2"), (100, "100"), (1234, "1200"), (12345, "1.2e4"),
                                     (3e-3, "3e-3"), (2.5e-5, "2.5e-5"), (0, "0")])
def test_factors_are_rounded_to_two_digits(x, text):
    assert plots.factor(x) == text


def test_loss_png_live_plot_and_explorer_share_the_labels_and_the_axis():
    h = history()
    want = ["total", "content × 1", "style × 1.8e8"]
    figure_ax = plots.loss_figure(h, CFG).axes[0]
    live = LiveLossPlot(CFG, every=1000)
    for row in h:
        live(row["step"], row)
    live.redraw()
    live_ax = live.fig.axes[0]
    img = torch.rand(1, 3, 16, 16)
    explorer_ax = plots.explorer_figure(img, img, img, h, CFG, "t").axes[-1]
    for ax in (figure_ax, live_ax, explorer_ax):
        assert legend(ax) == want
        assert ax.get_ylim() == pytest.approx(figure_ax.get_ylim())


def test_a_real_run_from_the_photo_gets_a_tight_axis(effnet, tiny_pair):
    from nst_helpers.core.transfer import run
    cfg = preset("fast", steps=6, size=64, backbone="efficientnet_lite0", init="content")  # from the photo
    result = run(*tiny_pair, cfg, backbone=effnet, device="cpu", progress=False)
    assert result.history[0]["content"] < 1e-6  # the start the axis must not reach down to
    ax = plots.loss_figure(result.history, cfg).axes[0]
    later = [r["content"] * cfg.content_weight for r in result.history[1:]]
    assert ax.get_ylim()[0] <= min(later) and decades(ax) < 6


def test_a_weighted_total_variation_gets_its_own_curve():
    h = [dict(r, tv=0.05) for r in history()]
    terms = plots.weighted_terms(h, preset("fast", tv_weight=1000.0))
    assert list(terms)[-1] == "TV × 1000" and terms["TV × 1000"] == pytest.approx([50.0] * len(h))
    assert legend(plots.loss_figure(h, preset("fast", tv_weight=1000.0)).axes[0])[-1] == "TV × 1000"
    assert "TV × 0" not in plots.weighted_terms(h, preset("fast", tv_weight=0.0))


def _drawn(fig):
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    FigureCanvasAgg(fig).draw()
    return fig


def _figures(h):
    """The three places a loss plot is drawn: loss.png's figure, the live plot and the explorer's."""
    live = LiveLossPlot(CFG, every=1000)
    for row in h:
        live(row["step"], row)
    live.redraw()
    img = torch.rand(1, 3, 16, 16)
    return {"loss_figure": (plots.loss_figure(h, CFG), 80), "live": (live.fig, 80),
            "explorer": (plots.explorer_figure(img, img, img, h, CFG, "t"), 96)}


def test_the_legend_is_beside_the_curves_not_over_them_and_readable():
    h = [dict(r, size=64 if r["step"] <= 20 else 91) for r in history()]   # a change of scale: a spike
    for name, (fig, dpi) in _figures(h).items():
        fig.set_dpi(dpi)
        ax = [a for a in _drawn(fig).axes if a.get_legend()][0]
        box, data, page = ax.get_legend().get_window_extent(), ax.get_window_extent(), fig.bbox
        assert box.x0 >= data.x1, name                               # right of the data area
        assert box.x1 <= page.x1 and box.y0 >= page.y0, name         # and inside the picture
        sizes = [t.get_fontsize() * dpi / 72 for t in ax.get_legend().get_texts()]
        assert min(sizes) >= 11, (name, sizes)                       # px: ~6 px text was not readable
        if name == "explorer":
            assert min(sizes) >= 13 and fig.get_size_inches()[0] * dpi == pytest.approx(691, abs=1)


def test_a_run_stopped_at_step_two_draws_every_point_the_axis_holds():
    """The content term's step-1 start is not drawn; its step-2 value alone has no line segment:
    it held the axis open two decades below the curves (they hugged the top) and was invisible."""
    h = history(steps=2)
    ax = plots.loss_figure(h, CFG).axes[0]
    lo, hi = ax.get_ylim()
    for line in ax.get_lines():
        ys = list(line.get_ydata())
        if not ys or line.get_linestyle() == ":":
            continue
        marked = set(line.get_markevery() or []) if line.get_marker() not in (None, "None", "") else set()
        for i, y in enumerate(ys):
            if math.isnan(y):
                continue
            assert lo <= y <= hi, line.get_label()
            joined = (i > 0 and not math.isnan(ys[i - 1])) or (i + 1 < len(ys) and not math.isnan(ys[i + 1]))
            assert joined or i in marked, (line.get_label(), i)      # drawn: on a segment, or a dot
    content = ax.get_lines()[1]
    assert math.isnan(content.get_ydata()[0]) and content.get_markevery() == [1]


def test_a_single_step_from_the_photo_does_not_stretch_the_axis():
    h = history(steps=1)                         # content 1e-11 (the photo), total ~10
    ax = plots.loss_figure(h, CFG).axes[0]
    assert decades(ax) < 1 and math.isnan(ax.get_lines()[1].get_ydata()[0])
    assert math.isnan(plots.visible([1e-11], total=[10.0])[0]) and plots.visible([5.0], total=[10.0]) == [5.0]


def test_lone_points_are_those_without_a_drawn_neighbour():
    nan = float("nan")
    assert plots.lone([nan, 1.0, nan, 2.0, 3.0, nan, 4.0]) == [1, 6]
    assert plots.lone([]) == [] and plots.lone([1.0]) == [0] and plots.lone([1.0, 2.0]) == []
