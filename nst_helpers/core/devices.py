"""Which device a run uses, where a module lives, and a backbone there without moving the caller's module."""
import copy

import torch


def pick_device(device: str | None = None) -> torch.device:
    """The given device, else cuda, else mps, else cpu."""
    if device:
        return torch.device(device)
    if torch.cuda.is_available():
        return torch.device("cuda")
    if getattr(torch.backends, "mps", None) and torch.backends.mps.is_available():
        return torch.device("mps")
    return torch.device("cpu")


def module_device(module) -> torch.device:
    """Where a module's weights live: its first parameter's device, else its first buffer's,
    else the CPU (a parameter-free module computes wherever its input is)."""
    for tensor in (*module.parameters(), *module.buffers()):
        return tensor.device
    return torch.device("cpu")


def _same_device(a: torch.device, b: torch.device) -> bool:
    return a.type == b.type and (a.index is None or b.index is None or a.index == b.index)


def on_device(net: torch.nn.Module, dev: torch.device) -> torch.nn.Module:
    """`net` itself if it already lives on `dev`, else a copy there: a caller's module is never
    moved under it (its other users, e.g. metrics on CPU images, keep working)."""
    weightless = not any(True for _ in (*net.parameters(), *net.buffers()))  # computes anywhere
    if weightless or _same_device(module_device(net), dev):
        return net
    return copy.deepcopy(net).to(dev)
