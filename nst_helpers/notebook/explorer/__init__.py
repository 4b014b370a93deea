"""The interactive explorer: `ExplorerPanel()` in a notebook cell (notebook 05).

    view.py        the panel: layout, status line, figure, report (report.py) and Save
    form.py        the controls <-> the StyleConfig: preset fill, reading, clamped entries
    controls.py    the layout pieces: wide sliders with typed entries, wrapping columns
    background.py  the run in a worker thread, its backbones and measured speed (no widgets)

ExplorerPanel loads on first use (PEP 562), so `background` imports without ipywidgets.
"""
import importlib

__all__ = ["ExplorerPanel"]


def __getattr__(name: str):
    if name != "ExplorerPanel":
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return importlib.import_module(".view", __name__).ExplorerPanel
