"""Steady speed on a shared machine: torch's OpenMP threads must not spin while they wait.

torch's CPU kernels run on an OpenMP team (libgomp), one thread per core. Between parallel
regions an idle thread spins for a while before it sleeps, so it can start the next region at
once. On a quiet machine that saves microseconds; when another process is busy on the same
cores, a spinning thread burns the time slice that the thread it waits for needs, and every
barrier waits for a thread that is not running (benchmarks/contention.py measures it).
OMP_WAIT_POLICY=PASSIVE makes waiting threads sleep. libgomp reads it once, when torch loads,
so `steady()` must run before the first `import torch`: the package's entry points call it.
"""
import os
import sys

WAIT_POLICY = "OMP_WAIT_POLICY"


def steady(environ=None) -> bool:
    """Set OMP_WAIT_POLICY=PASSIVE unless the user chose a policy; True if it takes effect
    (torch not loaded yet). A value already set is the user's and is left alone."""
    env = os.environ if environ is None else environ
    env.setdefault(WAIT_POLICY, "PASSIVE")
    return "torch" not in sys.modules
