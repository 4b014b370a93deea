"""Experiment grids on Dask: the product of contents, styles, presets, config overrides and seeds,
each cell one task, on this machine (a LocalCluster) or on a cluster (a scheduler address).

    spec.py      the grid (Python or a YAML/JSON file), its cells and their names, checked
    task.py      one cell on a worker: the run, its metrics, its folder's files sent back as bytes
    store.py     the client's writes: each cell folder whole or not at all, the failures
    cluster.py   the LocalCluster sized to the machine (workers x torch threads = cores), or a scheduler
    run.py       run_grid: resumable, a bar over cells; run_serial: the same without Dask
    sheet.py     the contact sheet and the metrics table

A capability over the core: it imports core/ and runs/, and the core never imports it.
"""
from .run import GridReport, run_grid, run_serial  # noqa: F401
from .spec import Cell, Grid, GridError, from_dict, load  # noqa: F401
