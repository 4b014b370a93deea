"""The command line: `python -m nst_helpers` or `nst` (main), its signals (signals), and the
`make experiments` driver (experiments). Cheap to import: torch loads only once a run is checked."""
from .main import main  # noqa: F401
