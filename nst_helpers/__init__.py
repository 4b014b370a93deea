"""nst_helpers: Gatys-style neural style transfer for notebooks and the command line.

    from nst_helpers import preset, run, save_run
    result = run("images/content.jpg", "images/style.jpg", preset("fast"))
    save_run(result)          # outputs/fast/<timestamp>-<id>/

An interrupted run that kept checkpoints (the command line's) finishes with resume(folder).
"""
from . import threads as _threads

_threads.steady()  # before anything loads torch: OpenMP threads sleep while they wait (threads.py)

from .checkpoint import resume  # noqa: E402
from .config import PRESETS, StyleConfig, preset  # noqa: E402
from .runs import load_run, save_run  # noqa: E402
from .transfer import TransferResult, run  # noqa: E402

__all__ = ["PRESETS", "StyleConfig", "preset", "run", "save_run", "load_run", "resume", "TransferResult"]
__version__ = "0.1.0"
