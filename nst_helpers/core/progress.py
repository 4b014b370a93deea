"""Progress that suits where it is read: a tqdm bar on a terminal or in a notebook, plain lines in a log.

tqdm redraws its bar with carriage returns; written to a file (`python -m nst_helpers ... 2> log`,
CI logs) that is one "line" of ~30 KB per run. When the stream is not a terminal, `progress_bar`
returns a LineProgress instead: one plain line every 10 % and one at the end.
"""
import sys
import time


class LineProgress:
    """The part of tqdm's interface the loop uses (update, set_postfix, close), as plain lines."""

    def __init__(self, total=None, desc="", unit="it", file=None, every=0.1):
        self.total, self.desc, self.unit, self.file = total, desc, unit, file or sys.stderr
        self.n, self.postfix, self.t0 = 0, {}, time.perf_counter()
        self.step = max(1, round(total * every)) if total else None  # a line every `step` units
        self.next, self.printed_at, self.due = self.step, None, False

    def update(self, n=1) -> None:
        self._flush()
        self.n += n
        if self.step is not None and self.n >= self.next:
            self.due = True  # printed once this step's postfix is known (tqdm's order: update, postfix)
            while self.next <= self.n:
                self.next += self.step

    def set_postfix(self, **values) -> None:
        self.postfix = values
        self._flush()

    def _flush(self) -> None:
        if self.due:
            self.due = False
            self._line()

    def _amount(self, n) -> str:
        return f"{n / 1e6:.0f} MB" if self.unit == "B" else f"{n} {self.unit}{'s' if n != 1 else ''}"

    def _line(self) -> None:
        done = f"{self._amount(self.n)}" + (f" of {self.total}" if self.total and self.unit != "B" else "")
        share = f" ({100 * self.n / self.total:.0f} %)" if self.total else ""
        extra = "".join(f", {k} {v}" for k, v in self.postfix.items())
        print(f"{self.desc}: {done}{share}{extra}, {time.perf_counter() - self.t0:.1f} s", file=self.file, flush=True)
        self.printed_at = self.n

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def close(self) -> None:
        """A last line, unless the last update printed one (a run that ends early says where)."""
        self.due = self.printed_at != self.n
        self._flush()


def _in_notebook(stream) -> bool:
    # ipykernel replaces sys.stderr with its OutStream: checked by name, so nothing of IPython is imported
    return type(stream).__module__.startswith("ipykernel")


def progress_bar(total=None, desc="", unit="it", file=None, widget=True, **tqdm_kw):
    """tqdm.auto's bar in a notebook (widget=False: tqdm's text bar there, no ipywidgets), tqdm's on
    a terminal, else a LineProgress (no carriage returns). tqdm_kw (e.g. unit_scale=True) go to tqdm only."""
    stream = file or sys.stderr
    if widget and _in_notebook(stream):
        from tqdm.auto import tqdm
        return tqdm(total=total, desc=desc, unit=unit, **tqdm_kw)
    isatty = getattr(stream, "isatty", None)
    if _in_notebook(stream) or (isatty is not None and isatty()):  # a notebook draws \r as a redraw
        from tqdm import tqdm
        return tqdm(total=total, desc=desc, unit=unit, file=stream, **tqdm_kw)
    return LineProgress(total=total, desc=desc, unit=unit, file=stream)
