"""Install torch and torchvision: the CPU build where no NVIDIA GPU can use CUDA, else the default wheels.

    python tools/install_torch.py [--mode auto|cpu|default] [--dry-run]

The default PyPI wheels for Linux carry CUDA and Triton (~5 GB installed); a CPU-only machine
never uses them. PyTorch's own CPU index has the same torch without them. `auto` (the Makefile's
TORCH=auto) takes the CPU build when there is no NVIDIA GPU and that index answers a quick probe,
else the default wheels. Prints one line saying which it did. Standard library only: it runs
before anything is installed. `--dry-run` prints the line and the pip command and installs nothing.
"""
import argparse
import os
import shlex
import shutil
import subprocess
import sys
import tomllib
import urllib.error
import urllib.request
from pathlib import Path

CPU_INDEX = "https://download.pytorch.org/whl/cpu"
PROBE_TIMEOUT = 5  # seconds: an index that is not there must not slow the set-up
ROOT = Path(__file__).resolve().parents[1]


def has_nvidia_gpu() -> bool:
    """An NVIDIA driver is loaded (its /proc entry) or its tool is on PATH."""
    return Path("/proc/driver/nvidia").exists() or shutil.which("nvidia-smi") is not None


def reachable(index: str, timeout: float = PROBE_TIMEOUT) -> str | None:
    """None if `index` answers (its torch page); else why not, in a few words."""
    try:
        with urllib.request.urlopen(index.rstrip("/") + "/torch/", timeout=timeout) as response:
            response.read(1)
        return None
    except Exception as err:  # DNS, refused, timeout, HTTP error: all mean "use the default"
        detail = err if isinstance(err, urllib.error.HTTPError) else getattr(err, "reason", err)
        return f"{type(err).__name__}: {detail}"


def decide(mode: str, gpu: bool, probe) -> tuple[str, str]:
    """("cpu" | "default", why). `probe()` is only called when the answer depends on it."""
    if mode in ("cpu", "default"):
        return mode, f"forced with TORCH={mode}"
    if mode != "auto":
        raise ValueError(f"TORCH={mode!r}: choose auto, cpu or default")
    if gpu:
        return "default", "an NVIDIA GPU is present: the default wheels bring CUDA"
    problem = probe()
    if problem is None:
        return "cpu", "no NVIDIA GPU here, and the CPU index is reachable"
    return "default", f"no NVIDIA GPU here, but the CPU index is not reachable ({problem})"


def requirements(pyproject: Path = ROOT / "pyproject.toml") -> list[str]:
    """torch's and torchvision's requirement strings, as pyproject.toml gives them."""
    deps = tomllib.loads(pyproject.read_text())["project"]["dependencies"]
    return [d for d in deps if d.split(">")[0].split("=")[0].strip() in ("torch", "torchvision")]


def pip_command(choice: str, python: str, index: str) -> list[str]:
    cmd = [python, "-m", "pip", "install", "-q", *requirements()]
    return cmd + ["--index-url", index] if choice == "cpu" else cmd


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--mode", default=os.environ.get("TORCH") or "auto", help="auto, cpu or default")
    p.add_argument("--python", default=sys.executable, help="the interpreter to install into")
    p.add_argument("--index-url", default=CPU_INDEX, help="PyTorch's CPU wheel index")
    p.add_argument("--dry-run", action="store_true", help="say what would be done, install nothing")
    args = p.parse_args(argv)
    try:
        choice, why = decide(args.mode, has_nvidia_gpu(), lambda: reachable(args.index_url))
    except ValueError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    what = (f"CPU build from {args.index_url} (~0.7 GB installed)" if choice == "cpu"
            else "default wheels from PyPI (with CUDA and Triton on Linux: ~5 GB installed)")
    print(f"[install] torch: {what}; {why}")
    cmd = pip_command(choice, args.python, args.index_url)
    if args.dry_run:
        print("[install] would run: " + shlex.join(cmd))
        return 0
    code = subprocess.call(cmd)
    if code and choice == "cpu" and args.mode == "auto":  # the probe answered but the install failed
        print("[install] torch: the CPU build failed to install; falling back to the default wheels")
        code = subprocess.call(pip_command("default", args.python, args.index_url))
    return code


if __name__ == "__main__":
    sys.exit(main())
