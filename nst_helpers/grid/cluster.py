"""Where the cells run: a LocalCluster sized to this machine, or an existing Dask cluster.

On a CPU, torch's kernels run on a team of threads per process, one per core. A Dask worker runs
one cell at a time (nthreads=1: two cells in one process would share torch's one thread pool) and
its cells get cores / workers torch threads, so the workers never ask for more cores than there
are. On a GPU machine: one worker per GPU, each with the resource GPU=1; a cell that needs a GPU
asks for it, so no two cells share a card.
"""
import contextlib
import logging
import os

CONNECT_TIMEOUT = 5   # s: a scheduler address that does not answer is an error after this, not a hang
DASHBOARD = "127.0.0.1:0"   # the LocalCluster's dashboard: this machine only, a free port (":0" was every interface)


class ClusterError(RuntimeError):
    """No cluster to run on, said as `<what>; <how to fix it>`."""


def cores() -> int:
    """The cores this process may use (a container's or taskset's limit, not the machine's)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


def gpus() -> int:
    import torch
    return torch.cuda.device_count() if torch.cuda.is_available() else 0


def device_problem(device: str | None) -> str | None:
    """Why a LocalCluster here cannot run cells on `device` (a grid's: cpu, cuda[:N], mps), or None.
    Without the check a cell asking for a GPU waits for one forever."""
    if device is None or device == "cpu":
        return None
    fix = "use device: cpu, leave device out, or run on a cluster that has one (--scheduler)"
    if device.startswith("cuda"):
        n, index = gpus(), int(device.partition(":")[2] or 0)
        return None if index < n else f"device {device}: this machine has {n} CUDA device(s); {fix}"
    import torch
    mps = getattr(torch.backends, "mps", None)
    return None if mps is not None and mps.is_available() else f"device {device}: no Apple MPS device here; {fix}"


def gpu_problem(client, device: str | None) -> str | None:
    """Why an existing cluster cannot run cells that ask for a GPU, or None: no worker offers the
    resource GPU (dask worker --resources GPU=1), and a cell would wait for one forever."""
    if not (device or "").startswith("cuda"):
        return None
    workers = client.scheduler_info(**({"n_workers": -1} if _takes_n(client) else {}))["workers"]
    if any(info.get("resources", {}).get("GPU") for info in workers.values()):
        return None
    return (f"device {device}: no worker of the cluster offers a GPU (none was started with --resources GPU=1); "
            "start GPU workers with dask worker ADDRESS --resources GPU=1, or use device: cpu")


def local_plan(workers: int | None = None) -> dict:
    """{workers, torch_threads, gpu}: on a CPU, workers x torch threads = the cores (default: a
    worker per core, up to 8, since each holds its own network and images); on GPUs one worker each."""
    n_gpu = gpus()
    if n_gpu:
        return {"workers": workers or n_gpu, "torch_threads": max(1, cores() // (workers or n_gpu)), "gpu": True}
    n = workers or min(cores(), 8)
    return {"workers": n, "torch_threads": max(1, cores() // n), "gpu": False}


def start_local(workers: int | None = None, dashboard: str = DASHBOARD):
    """(LocalCluster, Client, plan): worker processes sized by local_plan; its scheduler and workers
    listen on 127.0.0.1, and so does its dashboard unless `dashboard` names another address."""
    import dask
    from distributed import Client, LocalCluster
    plan = local_plan(workers)
    kw = {"resources": {"GPU": 1}} if plan["gpu"] else {}
    # Dask's nanny starts workers with OMP_NUM_THREADS=1; it must be the torch threads before the
    # worker process starts (set after, as LocalCluster's env is, OpenMP has already read it)
    spawn = {f"distributed.nanny.pre-spawn-environ.{name}": str(plan["torch_threads"])
             for name in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS")}
    kept = {name: os.environ.get(name) for name in NANNY_ENVIRON}
    try:
        with dask.config.set(spawn):
            cluster = LocalCluster(n_workers=plan["workers"], threads_per_worker=1, processes=True,
                                   dashboard_address=dashboard, silence_logs=logging.CRITICAL, **kw)
    finally:
        restore_environ(kept)
    return cluster, Client(cluster), plan


# The nanny writes these into this process's os.environ for the workers it spawns, and leaves them:
# a notebook kernel's later subprocesses (and, in the test suite, every notebook after a grid test)
# then ran on one OpenMP thread. They are put back once the workers have started.
NANNY_ENVIRON = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MALLOC_TRIM_THRESHOLD_")


def restore_environ(kept: dict) -> None:
    """os.environ's NANNY_ENVIRON entries back as `kept` ({name: value or None})."""
    for name, value in kept.items():
        if value is None:
            os.environ.pop(name, None)
        else:
            os.environ[name] = value


def connect(address: str, timeout: float = CONNECT_TIMEOUT):
    """A Client of the scheduler at `address`, or ClusterError within `timeout` seconds."""
    from distributed import Client
    try:
        return Client(address, timeout=timeout)
    except (OSError, TimeoutError, ValueError) as err:
        why = " ".join(str(err).split()) or type(err).__name__
        raise ClusterError(f"no Dask scheduler answers at {address} within {timeout:g} s ({why[:160]}); start one "
                           "(dask scheduler, then dask worker ADDRESS) or leave --scheduler out to run on "
                           "this machine") from None


def torch_threads(client) -> dict:
    """{worker host: torch threads} for an existing cluster: that host's cores over the cells it
    runs at once (the sum of its workers' nthreads), at least 1."""
    workers = client.scheduler_info(n_workers=-1)["workers"] if _takes_n(client) else client.scheduler_info()["workers"]
    counts = client.run(cores)   # {worker address: cores there}
    per_host, cpu = {}, {}
    for addr, info in workers.items():
        host = addr.rsplit(":", 1)[0]
        per_host[host] = per_host.get(host, 0) + info.get("nthreads", 1)
        cpu[host] = counts.get(addr, 1)
    return {host: max(1, cpu[host] // max(1, n)) for host, n in per_host.items()}


def _takes_n(client) -> bool:
    import inspect
    return "n_workers" in inspect.signature(client.scheduler_info).parameters


@contextlib.contextmanager
def client_for(client=None, scheduler: str | None = None, workers: int | None = None, dashboard: str = DASHBOARD,
               device: str | None = None):
    """Yield (client, {host: torch threads} or an int, what it is in words); a cluster this
    started is closed at the end, a given client is left open. dashboard: a LocalCluster's;
    device: the grid's, refused (ClusterError) where no worker could run it."""
    if client is not None:
        if problem := gpu_problem(client, device):
            raise ClusterError(problem)
        yield client, torch_threads(client), "the given Dask client"
        return
    if scheduler is not None:
        client = connect(scheduler)
        try:
            if problem := gpu_problem(client, device):
                raise ClusterError(problem)
            yield client, torch_threads(client), f"the Dask scheduler at {scheduler}"
        finally:
            client.close()
        return
    if problem := device_problem(device):   # before a worker starts
        raise ClusterError(problem)
    cluster, client, plan = start_local(workers, dashboard)
    try:
        kind = f"{plan['workers']} GPU worker(s)" if plan["gpu"] else \
            f"{plan['workers']} worker(s) x {plan['torch_threads']} torch thread(s)"
        yield client, plan["torch_threads"], f"a LocalCluster of {kind}"
    finally:
        client.close()
        cluster.close()
