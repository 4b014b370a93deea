"""python -m nst_helpers grid GRID.yaml [--scheduler ADDRESS] [--workers N] [--dashboard HOST:PORT] [--out DIR]
[--no-progress]:
every cell of a grid (grid/spec.py) as a Dask task, into DIR/<grid name>/<cell>/, then the contact
sheet and the metrics table.

A bad grid file (an unknown field, an empty axis, a bad value in any cell) or a scheduler that does
not answer is one line `error: <what>; <fix>` and exit code 2, found before a cell runs. Failed
cells are listed at the end (exit code 1); running the same command again retries only those and
the missing ones. Ctrl-C stops the grid; the finished cells are kept (exit code 130).
"""
import sys

from .args import UsageError, _count, _Help, _Parser, check_out
from .signals import say
from .streams import forgiving_stdout

DASHBOARD = "127.0.0.1:0"   # grid.cluster.DASHBOARD (importing grid/ would load torch for --help)


def build_parser():
    p = _Parser(prog="python -m nst_helpers grid", formatter_class=_Help,
                description="Run an experiment grid (contents x styles x presets x config overrides x seeds) on Dask: "
                            "a LocalCluster sized to this machine, or an existing cluster.")
    p.add_argument("grid", metavar="GRID", help="the grid file, .yaml/.yml or .json (see nst_helpers/grid/spec.py)")
    p.add_argument("--scheduler", default=None, metavar="ADDRESS",
                   help="an existing Dask scheduler, e.g. tcp://HOST:8786 (default: a LocalCluster here)")
    p.add_argument("--workers", type=_count, default=None, metavar="N",
                   help="LocalCluster workers; torch threads per worker = cores / N (default: one per core, up to 8)")
    p.add_argument("--dashboard", default=DASHBOARD, metavar="HOST:PORT",
                   help="where the LocalCluster's Dask dashboard listens (port 0: a free one). WARNING: a host other "
                        "than 127.0.0.1 (e.g. 0.0.0.0) lets anyone on the network read it: the cells, their settings "
                        "and the logs")
    p.add_argument("--out", default="outputs", metavar="DIR", help="root folder: cells go to DIR/<grid name>/<cell>/")
    p.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return p


def _go(argv):
    args = build_parser().parse_args(argv)
    if args.scheduler is not None and args.workers is not None:
        raise UsageError("--workers sizes a LocalCluster, and --scheduler uses an existing one; give one of them")
    if args.scheduler is not None and args.dashboard != DASHBOARD:
        raise UsageError("--dashboard places a LocalCluster's dashboard, and --scheduler uses an existing cluster "
                         "(its dashboard is the scheduler's); give one of them")
    from ..grid import spec
    grid = spec.load(args.grid)   # every cell checked before anything starts
    out = check_out(args.out)
    from ..grid import run   # a dead --scheduler address: cluster.ClusterError within its connect timeout
    return run.run_grid(grid, scheduler=args.scheduler, workers=args.workers, out=out, progress=not args.no_progress,
                        dashboard=args.dashboard)


def main(argv: list) -> int:
    with forgiving_stdout():
        try:
            report = _go(argv)
        except KeyboardInterrupt:
            say("[nst] grid interrupted: the finished cells are kept; run the same command again to go on")
            return 130
        except (UsageError, ValueError, OSError, RuntimeError) as err:   # GridError, ConfigError; ClusterError
            if isinstance(err, RuntimeError) and type(err).__name__ != "ClusterError":
                raise
            say("error: " + " ".join(str(err).split()))
            return 2
        print(report.summary())
        sys.stdout.flush()
        return 1 if report.failed else 0
