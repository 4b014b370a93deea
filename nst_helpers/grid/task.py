"""One cell, on a worker: the run, its folder written in a private temporary folder, the metrics,
and every file sent back as bytes.

The worker never writes into the grid's folder: it may not share the client's filesystem, and a
worker killed half-way must leave nothing that could pass for a result. The client writes what
comes back (store.py). The images travel as bytes too, for the same reason.
"""
import json
import os
import shutil
import tempfile
import time
from pathlib import Path

from . import store

_NETS = {}   # (backbone, pooling) -> the loaded network: one load per worker process, not one per cell


def payload(cell, grid) -> dict:
    """What a worker needs for `cell`: the config, the images' bytes and names, what to record."""
    def rel(p):
        p = Path(p).resolve()
        return str(p.relative_to(grid.root.resolve())) if p.is_relative_to(grid.root.resolve()) else str(p)
    return {"cell": cell.name, "config": cell.config.to_dict(), "device": grid.device,
            "images": {"content": (cell.content.name, cell.content.read_bytes()),
                       "style": (cell.style.name, cell.style.read_bytes())},
            "extra": {"grid": grid.name, "cell": cell.name, "axes": cell.labels, "content_path": rel(cell.content),
                      "style_path": rel(cell.style), "recipe": grid.recipe, **grid.labels,
                      **{k: v for k, v in store.identity(cell).items() if k != "config"}}}


def backbone(cfg):
    """The worker's network for `cfg`, loaded once."""
    key = (cfg.backbone, cfg.pooling)
    if key not in _NETS:
        from ..backbones import load_backbone
        _NETS[key] = load_backbone(cfg.backbone, pooling=cfg.pooling, verbose=False)
    return _NETS[key]


M_MMAP_THRESHOLD = -3            # glibc's mallopt parameter number (malloc.h)
HEAP_UP_TO = 32 * 1024 * 1024    # glibc's own ceiling for its dynamic threshold on 64-bit


def keep_heap() -> bool:
    """Let freed tensor buffers be reused from the heap again; True if it changed anything.

    Dask's nanny starts workers with MALLOC_TRIM_THRESHOLD_=65536 to return memory to the system.
    Setting it switches off glibc's dynamic mmap threshold, so every buffer over 128 KiB is a fresh
    mmap, page-faulted in on each step and unmapped after (benchmarks/grid.py, 16 cells on 2 workers
    x 1 thread: 145 s before this, 88 s after). Raising the mmap threshold by hand restores the
    reuse, on a worker started any way (LocalCluster, dask worker, dask-jobqueue)."""
    if not _started_with("MALLOC_TRIM_THRESHOLD_"):
        return False
    try:
        import ctypes
        libc = ctypes.CDLL(None)
        return bool(libc.mallopt(M_MMAP_THRESHOLD, HEAP_UP_TO))   # 1 on success, 0 otherwise
    except (OSError, AttributeError):   # not glibc: nothing to undo
        return False


def _started_with(name: str) -> bool:
    """Was `name` in this process's environment when it started (when glibc read it)? A nanny in
    this process sets it in os.environ later, for the workers it spawns, not for itself."""
    try:
        start = Path("/proc/self/environ").read_bytes().split(b"\0")
    except OSError:
        return name in os.environ
    return any(entry.startswith(name.encode() + b"=") for entry in start)


def set_threads(threads: int | None) -> None:
    """torch's threads for this worker process (None: leave torch's choice)."""
    if threads:
        import torch
        if torch.get_num_threads() != threads:
            torch.set_num_threads(threads)


def run_cell(job: dict, threads=None) -> dict:
    """Run one cell; {"cell", "files": {relative path: bytes}, "seconds", "worker", "metrics"}.
    threads: torch's threads here, an int or {host: int} (cluster.torch_threads)."""
    from ..core.config import StyleConfig
    from ..core.transfer import run
    from ..runs import folders, metrics
    from ..core.images import load_image
    set_threads(threads.get(_host(), None) if isinstance(threads, dict) else threads)
    keep_heap()
    t0 = time.perf_counter()
    cfg = StyleConfig.from_dict(job["config"])
    work = Path(tempfile.mkdtemp(prefix="nst-cell-"))
    try:
        paths = {}
        for key, (name, data) in job["images"].items():   # the same file the client has, read the same way
            (work / key).mkdir()
            paths[key] = work / key / name
            paths[key].write_bytes(data)
        net = backbone(cfg)
        result = run(paths["content"], paths["style"], cfg, backbone=net, device=_device(job["device"]), progress=False)
        if result.stop_reason not in ("completed", "early_stop"):
            raise RuntimeError(f"the run ended as {result.stop_reason}: {result.message or 'no result'}")
        folder = folders.save_run(result, root=work, name="run", extra=job["extra"])
        measured = metrics.measure(load_image(folder / "final.png"), result.content, result.style, net, result.history)
        folders.write_text(folder / "metrics.json", json.dumps(measured, indent=2))
        files = {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*")) if p.is_file()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {"cell": job["cell"], "files": files, "seconds": time.perf_counter() - t0, "worker": _where(),
            "metrics": measured}


def _device(device: str | None) -> str | None:
    """"cuda" on a worker of a LocalCluster with several GPUs: the card of its number (workers 0..n-1)."""
    if device != "cuda":
        return device
    import torch
    try:
        from distributed import get_worker
        name = get_worker().name
    except (ImportError, ValueError):
        return device
    return f"cuda:{name % torch.cuda.device_count()}" if isinstance(name, int) else device


def _host() -> str | None:
    try:
        from distributed import get_worker
        return get_worker().address.rsplit(":", 1)[0]
    except (ImportError, ValueError):
        return None   # not on a Dask worker: the cells one after another in this process


def _where() -> str:
    try:
        from distributed import get_worker
        return get_worker().address
    except (ImportError, ValueError):
        return f"pid {os.getpid()}"
