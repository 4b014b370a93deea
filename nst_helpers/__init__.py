"""nst_helpers: Gatys-style neural style transfer for notebooks and the command line.

    from nst_helpers import preset, run, save_run
    result = run("images/content.jpg", "images/style.jpg", preset("fast"))
    save_run(result)          # outputs/fast/<timestamp>-<id>/
"""
from .config import PRESETS, StyleConfig, preset
from .runs import load_run, save_run
from .transfer import TransferResult, run

__all__ = ["PRESETS", "StyleConfig", "preset", "run", "save_run", "load_run", "TransferResult"]
__version__ = "0.1.0"
