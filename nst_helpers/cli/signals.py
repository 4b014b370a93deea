"""The command line's signals. SIGINT (Ctrl-C), SIGTERM and SIGHUP (the terminal closed, the SSH
connection lost) end a run after its current step, so that its checkpoint holds that step
(checkpoint.py); a second one, or one outside the run, ends it at once (KeyboardInterrupt). Then
one line on stderr says where the work is and the command that finishes it (when stderr is still
there: after SIGHUP it may not be), and the exit code is 128 + the signal (130, 143, 129), as a
shell's would be."""
import shlex
import signal
import sys
import threading


# the signals that stop a run; SIGHUP is not on every platform (Windows has none)
HANDLED = tuple(s for s in (signal.SIGINT, signal.SIGTERM, getattr(signal, "SIGHUP", None)) if s is not None)


def say(text: str) -> None:
    """A line on stderr, if stderr is still there (a closed terminal raises OSError: EIO, EPIPE)."""
    try:
        print(text, file=sys.stderr, flush=True)
    except (OSError, ValueError):   # ValueError: stderr was closed
        pass


class Signals:
    """The handler of the signals in HANDLED, and the run's stop_event (is_set). running: a run is going;
    folder: its run folder, once there is one."""

    def __init__(self):
        self.signum, self.running, self.folder = None, False, None

    def is_set(self) -> bool:
        return self.signum is not None

    def __call__(self, signum, frame):
        first, self.signum = self.signum is None, self.signum or signum
        if not (first and self.running):
            raise KeyboardInterrupt
        say(f"[nst] {signal.Signals(signum).name}: stopping after this step (again: at once)")

    def install(self) -> dict:
        """Handle HANDLED; returns the handlers before, for signal.signal to put back. A signal
        ignored when we start stays ignored: `nohup` ignores SIGHUP and a shell's `cmd &` SIGINT
        so that the run goes on; catching them would stop what the user asked to keep going."""
        if threading.current_thread() is not threading.main_thread():
            return {}  # signal handlers belong to the main thread: a caller's thread keeps Python's
        return {s: signal.signal(s, self) for s in HANDLED if signal.getsignal(s) is not signal.SIG_IGN}

    def code(self) -> int:
        return 128 + (self.signum or signal.SIGINT)

    def interrupted(self, message: str) -> int:
        """One line: why it ended, where the work is, the command that finishes it; the exit code."""
        name = signal.Signals(self.signum or signal.SIGINT).name
        say(f"[nst] interrupted ({name}): {message}; finish it with: python -m nst_helpers --resume "
            f"{shlex.quote(str(self.folder))}")
        return self.code()

    def cut_short(self) -> int:
        """After a KeyboardInterrupt outside the run (before it, or while saving): one line, the exit code."""
        from ..runs.folders import CHECKPOINT, DONE  # late: folders loads torch; --help must not
        f = self.folder
        if f is not None and (f / CHECKPOINT).is_file() and not (f / DONE).is_file():
            return self.interrupted(f"the work so far is in {f}/")
        where = (f"after the run was saved: results in {f}/" if f is not None and (f / DONE).is_file()
                 else "before the run started; nothing to resume")
        say(f"[nst] interrupted ({signal.Signals(self.signum or signal.SIGINT).name}) {where}")
        return self.code()


def restore(before: dict) -> None:
    """Put back the handlers Signals.install replaced."""
    for s, handler in before.items():
        signal.signal(s, handler)


def refuse(message: str) -> int:
    """A bad input's one line on stderr, `error: ...` (whatever newlines the message had); exit code 2."""
    say("error: " + " ".join(message.split()))
    return 2
