"""Reading a settings file the user names (a --config, a grid file), bounded: a regular file of at
most MAX_BYTES, or a refusal. A FIFO named there hung the command (reading waits for a writer),
/dev/zero grew its memory without end; both are refused from a stat(), before the file is opened.
Torch-free: the command line reads these before torch loads."""
import os
import stat
from pathlib import Path

from ..core.files import _SPECIAL

MAX_BYTES = 1 << 20   # 1 MiB: a settings file or a grid is a few kB; a larger one is not one


class NotASettingsFile(ValueError):
    """The file is no regular file, or too big; the message says which, for its caller to name it."""


def read_text(path, limit: int = MAX_BYTES) -> str:
    """The UTF-8 text of the regular file `path`, at most `limit` bytes; NotASettingsFile otherwise
    (OSError for a file that cannot be read, UnicodeDecodeError for one that is not text)."""
    path = Path(path)
    info = path.stat()   # follows links: /dev/stdin is what is behind it; stat() never blocks
    if not stat.S_ISREG(info.st_mode):
        kind = next((what for test, what in _SPECIAL if test(info.st_mode)),
                    "a folder" if stat.S_ISDIR(info.st_mode) else "a special file")
        raise NotASettingsFile(f"is {kind}, not a regular file")
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0))   # swapped for a FIFO since: no wait
    with os.fdopen(fd, "rb") as fh:
        data = fh.read(limit + 1)
    if len(data) > limit:
        raise NotASettingsFile(f"is more than {limit // 1024} kB, far more than a settings file holds")
    return data.decode("utf-8")
