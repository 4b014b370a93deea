"""Storage failures in one line with a way forward: a full disk, a read-only file system, a run
folder that vanished, a symbolic link loop, while a checkpoint or the results are written.

files.atomic_file raises StorageError (an OSError) naming the file and the reason in words;
`resumable` adds what the run folder still holds and the command that finishes the run: every
file in it was written atomically, so the last checkpoint is whole and the run resumes from it.
"""
import errno
import shlex

# errno -> (what happened, what to do about it)
REASONS = {
    errno.ENOSPC: ("the disk is full", "free some space"),
    errno.EDQUOT: ("the disk quota is used up", "free some space"),
    errno.EROFS: ("the file system is read-only", "make it writable again"),
    errno.ENOENT: ("the folder is gone (deleted, moved or unmounted)", "check the disk"),
    errno.ELOOP: ("a symbolic link in the path loops", "fix the link"),
    errno.EACCES: ("permission denied", "fix the folder's permissions"),
    errno.EPERM: ("permission denied", "fix the folder's permissions"),
    errno.EIO: ("an input/output error (a failing disk or a lost network mount)", "check the disk"),
}


class StorageError(OSError):
    """A file of a run could not be written; str() is the whole line (what, where, why, what to do)."""

    def __str__(self) -> str:
        return self.strerror or super().__str__()


def reason(err: OSError) -> tuple[str, str]:
    """(what happened, what to do) for an OSError, in words."""
    return REASONS.get(err.errno, (err.strerror or str(err), "check the disk"))


def cannot_write(path, err: OSError) -> StorageError:
    """StorageError for a failed write of `path`: 'cannot write PATH: the disk is full'."""
    if isinstance(err, StorageError):
        return err
    what, _ = reason(err)
    return StorageError(err.errno, f"cannot write {path}: {what}")


def resumable(err: StorageError, folder, kept_step: int | None, otherwise: str = "run it again") -> StorageError:
    """`err` with what the run folder holds and how to go on: the --resume command, when its
    checkpoint (of step `kept_step`) is there; else that nothing is kept, and `otherwise`."""
    if getattr(err, "explained", False):
        return err   # the first failure's line, not a second one's on the way out
    fix = reason(err)[1]
    if kept_step is None:
        tail = f"nothing of the run is kept in {folder}/; {fix}, then {otherwise}"
    else:
        tail = (f"the run is kept in {folder}/ with its checkpoint of step {kept_step}: {fix}, then finish "
                f"it with python -m nst_helpers --resume {shlex.quote(str(folder))}")
    out = StorageError(err.errno, f"{err.strerror}; {tail}")
    out.explained = True
    return out
