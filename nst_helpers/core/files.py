"""Files without torch or Pillow: what can be said of an image path before reading it (the command
line checks its --content and --style with this before it loads anything, and load_image does
too), and writing a file so that no reader ever sees half of it."""
import contextlib
import os
import pathlib
import secrets
import stat

# What a path that is not a regular file can be; reading any of them as an image could wait
# forever (a pipe without a writer) or never end (/dev/zero), so they are named, not opened.
_SPECIAL = ((stat.S_ISFIFO, "a named pipe (FIFO)"), (stat.S_ISCHR, "a character device"),
            (stat.S_ISBLK, "a block device"), (stat.S_ISSOCK, "a socket"))

from .storage import cannot_write


def path_problem(path) -> str | None:
    """Why `path` cannot be an image file (missing, a folder, a pipe or device, empty) with the
    fix, or None. Only stat()s the path: opening a pipe could block."""
    path, name = pathlib.Path(path), str(path)
    if not path.exists():
        return f"{name}: no such file. Check the path (relative paths start at {os.getcwd()})."
    if path.is_dir():
        return f"{name} is a directory, not an image file. Pass the path of an image file inside it."
    info = path.stat()  # follows symlinks: /dev/stdin is the pipe or terminal behind it
    if not stat.S_ISREG(info.st_mode):
        kind = next((what for test, what in _SPECIAL if test(info.st_mode)), "a special file")
        return (f"{name} is {kind}, not a regular file, so it cannot be read as an image. "
                "Save the image to a regular file and pass its path.")
    if info.st_size == 0:
        return f"{name} is empty (0 bytes). Re-download or re-export the image."
    return None


@contextlib.contextmanager
def atomic_file(path):
    """Yield a temporary path next to `path`; on success it is synced and renamed to `path`.

    Readers see the old file or the new one, never a half-written one (os.replace is an
    atomic rename within a folder), and a crash leaves at most a hidden `.name.<hex>.tmp<suffix>`
    file. The temp file is created with mode 0o666 so the kernel applies the umask (reading
    the umask would mean setting it: process-wide state, unsafe from a thread). A failed write
    raises storage.StorageError (an OSError), one line: 'cannot write PATH: the disk is full'.
    """
    path = pathlib.Path(path)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(4)}.tmp{path.suffix}")
    try:
        os.close(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666))
    except OSError as err:
        raise cannot_write(path, err) from err
    try:
        yield tmp
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())  # the bytes are on disk before the name points at them
        os.replace(tmp, path)
    except BaseException as err:
        try:
            tmp.unlink(missing_ok=True)
        except OSError:
            pass  # the folder is gone or read-only: the first error is the one to report
        if isinstance(err, OSError):   # a full disk, a read-only or vanished folder: one line naming the file
            raise cannot_write(path, err) from err
        raise
