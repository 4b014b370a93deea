"""What the notebooks use: their settings (settings), the seed's tables (tables), live plots and
displays (live), the snapshots against the start (figures), the experiment comparison (compare)
and the explorer (explorer/).

    from nst_helpers import notebook
    s = notebook.settings(preset="baseline")
    result, folder = notebook.run_live(s, "baseline", load_backbone(s.backbone))
"""
from .compare import (EXPERIMENTS, latest_or_run, measure_runs, metrics_markdown,  # noqa: F401
                      observations, observations_markdown, save_comparison, save_result)
from .figures import changes_from_start, mean_changes, preset_differences  # noqa: F401  (00: snapshots; 04: presets)
from ..runs.plots import image_grid, loss_overlay  # noqa: F401  (the notebooks' comparison pictures)
from .live import EarlySnapshots, LiveLossPlot, run_live, show, show_gif, show_markdown  # noqa: F401
from .numbers import loss_by_level, rounded_rows, sig  # noqa: F401  (what checked cells print)
from .settings import SMOKE, Settings, project_root, settings, smoke_mode  # noqa: F401
from .tables import LAYER_NOTES, balance_markdown, balance_summary, layer_table, preset_table, weight_changes  # noqa: F401
