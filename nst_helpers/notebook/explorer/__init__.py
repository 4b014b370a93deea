"""The interactive explorer: `ExplorerPanel()` in a notebook cell (notebook 05)."""
from .view import ExplorerPanel  # noqa: F401
