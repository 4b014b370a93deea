"""nst_helpers: Gatys-style neural style transfer for notebooks and the command line.

    from nst_helpers import preset, run, save_run
    result = run("images/content.jpg", "images/style.jpg", preset("fast"))
    save_run(result)          # outputs/fast/<timestamp>-<id>/

An interrupted run that kept checkpoints (the command line's) finishes with resume(folder).

The layers, bottom up (tests/test_layers.py enforces them):
    backbones/  the feature extractors and their torch-free layer names
    core/       config and presets, the pyramid plan, images, losses, the loop (knows no screen)
    runs/       run folders, checkpoints and resume, pre-flight checks, metrics, plots
    cli/, notebook/   the faces: the command line, and what the notebooks and the explorer use

The names below load on first use (PEP 562), so `import nst_helpers.cli` answers --help
without loading torch.
"""
import importlib

from .core import threads as _threads

_threads.steady()  # before anything loads torch: OpenMP threads sleep while they wait (core/threads.py)

_PUBLIC = {  # name -> the module that defines it
    "PRESETS": "core.config", "StyleConfig": "core.config", "preset": "core.config",
    "run": "core.transfer", "TransferResult": "core.transfer",
    "save_run": "runs.folders", "load_run": "runs.folders", "resume": "runs.checkpoint",
}
__all__ = list(_PUBLIC)
__version__ = "0.1.0"


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'nst_helpers' has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{_PUBLIC[name]}", __name__), name)
    globals()[name] = value  # once loaded, a plain attribute
    return value


def __dir__():
    return sorted([*globals(), *_PUBLIC])
