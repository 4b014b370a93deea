"""One writer per run folder: an OS file lock on <folder>/.lock, held by a run, a resume and
save_run while they write there.

Without it two `--resume`s of one folder (or a resume while the run is still going) both did the
whole computation, and one's clean-up deleted the other's temporary files. The lock is flock(2)
on an open file: the kernel releases it when the process ends however it ends (a kill -9 leaves
no stale lock to clean up), and it is per process here: the same process may take it again
(the command line holds it for its run, and save_run inside takes it too).

The file itself stays (a hidden `.lock` with the holder's PID): removing it would let a second
writer lock a new file while the first still holds the old one. Where there is no fcntl (Windows)
there is no lock, as before.
"""
import contextlib
import os
from pathlib import Path

from ..core.storage import cannot_write

try:
    import fcntl
except ImportError:  # Windows
    fcntl = None

LOCK = ".lock"
_held: dict[Path, list] = {}   # folder -> [open lock file, how many holders in this process]


class FolderBusy(ValueError):
    """Another process is writing into the run folder; the message names it and what to do."""


def _holder_pid(path: Path) -> str:
    """The PID the holder wrote into the lock file, or ''."""
    try:
        pid = path.read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return ""
    return pid if pid.isdigit() else ""


@contextlib.contextmanager
def hold(folder):
    """Hold `folder`'s lock for the block; FolderBusy at once when another process holds it."""
    shown, folder = Path(folder), Path(folder).resolve()   # the path as given, in messages
    if folder in _held:   # this process holds it already (the command line's run, then its save)
        _held[folder][1] += 1
        try:
            yield folder
        finally:
            _release(folder)
        return
    if fcntl is None:
        yield folder
        return
    path = folder / LOCK
    try:
        fh = open(path, "a+", encoding="ascii")
    except OSError as err:   # the folder is gone, read-only, ...: nothing can be written there
        raise cannot_write(path, err) from err
    try:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except OSError:
        fh.close()
        pid = _holder_pid(path)
        raise FolderBusy(f"{shown} is in use by {'process ' + pid if pid else 'another process'} (a run or a "
                         f"resume of it is still going); wait for it to end, or stop it (kill {pid or '<its PID>'}) "
                         "and then --resume the folder") from None
    fh.seek(0)
    fh.truncate()
    fh.write(f"{os.getpid()}\n")
    fh.flush()
    _held[folder] = [fh, 1]
    try:
        yield folder
    finally:
        _release(folder)


def _release(folder: Path) -> None:
    entry = _held[folder]
    entry[1] -= 1
    if entry[1] == 0:
        del _held[folder]
        entry[0].close()   # closing the file releases the flock
