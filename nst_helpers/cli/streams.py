"""Standard output that cannot fail a run. `python -m nst_helpers ... | head -1` closes the pipe after
one line; a redirect to a full disk fails every write. Either used to turn a run whose folder was
saved into a BrokenPipeError traceback and exit code 1. The run's own lines are news, not results
(the results are in the run folder), so once stdout fails it is dropped for the rest of the run.
"""
import contextlib
import os
import sys


class Forgiving:
    """A text stream that passes writes to `stream` until one fails (OSError, or ValueError for a
    closed file), then swallows them all; other attributes are the stream's."""

    def __init__(self, stream):
        self.stream, self.failed = stream, False

    def _try(self, method, *args):
        if self.failed:
            return None
        try:
            return getattr(self.stream, method)(*args)
        except (OSError, ValueError):
            self.failed = True
            _silence(self.stream)
            return None

    def write(self, text):
        return self._try("write", text) or len(text)

    def flush(self):
        self._try("flush")

    def __getattr__(self, name):
        return getattr(self.stream, name)


def _silence(stream) -> None:
    """Point the failed stream's file descriptor at /dev/null: Python's flush at exit would
    otherwise fail again, and print 'Exception ignored ... BrokenPipeError'."""
    try:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, stream.fileno())
        os.close(devnull)
    except (OSError, ValueError, AttributeError):
        pass


@contextlib.contextmanager
def forgiving_stdout():
    """sys.stdout as a Forgiving stream for the block (the command line's whole run)."""
    before = sys.stdout
    if before is None or isinstance(before, Forgiving):
        yield before
        return
    sys.stdout = forgiving = Forgiving(before)
    try:
        yield forgiving
    finally:
        forgiving.flush()  # a pipe closed early fails here, not in Python's flush at exit (status 120)
        sys.stdout = before
