"""Progress output: plain lines in a log file, tqdm's bar on a terminal or in a notebook."""
import io
import types

from tqdm import tqdm

from nst_helpers.core.progress import LineProgress, progress_bar


class Terminal(io.StringIO):
    def isatty(self):
        return True


def notebook_stream():
    """An object whose class looks like ipykernel's OutStream (the stream a kernel gives stderr)."""
    cls = types.new_class("OutStream", (io.StringIO,))
    cls.__module__ = "ipykernel.iostream"
    return cls()


def drive(bar, steps=150, stop_at=None):
    """What transfer.run does with its bar: update and a postfix every step, close at the end."""
    for step in range(1, (stop_at or steps) + 1):
        bar.update(1)
        bar.set_postfix(loss=f"{1000 / step:.4g}", size=256)
    bar.close()


def test_a_log_file_gets_a_plain_line_every_tenth_and_no_carriage_returns():
    log = io.StringIO()
    drive(progress_bar(total=150, desc="fast on efficientnet_lite0", unit="step", file=log))
    text = log.getvalue()
    lines = text.splitlines()
    assert "\r" not in text and len(lines) == 10 and len(text) < 1500
    assert lines[0].startswith("fast on efficientnet_lite0: 15 steps of 150 (10 %), loss 66.67, size 256, ")
    assert lines[-1].startswith("fast on efficientnet_lite0: 150 steps of 150 (100 %), loss 6.667")


def test_plain_tqdm_in_a_log_is_what_this_replaces():
    log = io.StringIO()
    drive(tqdm(total=150, file=log, mininterval=0, desc="fast", unit="step"))
    assert log.getvalue().count("\r") > 100  # one redraw per step: the 30 KB "line" of the issue


def test_a_run_that_ends_early_says_where_it_stopped():
    log = io.StringIO()
    drive(progress_bar(total=150, desc="baseline", unit="step", file=log), stop_at=37)
    lines = log.getvalue().splitlines()
    assert len(lines) == 3 and lines[-1].startswith("baseline: 37 steps of 150 (25 %)")


def test_a_download_of_unknown_size_says_one_line_at_the_end():
    log = io.StringIO()
    with progress_bar(total=None, desc="vgg19.pth", unit="B", file=log, widget=False, unit_scale=True) as bar:
        for _ in range(548):
            bar.update(1 << 20)
    lines = log.getvalue().splitlines()
    assert len(lines) == 1 and lines[0].startswith("vgg19.pth: 575 MB, ")


def test_terminals_and_notebooks_keep_the_tqdm_bar():
    assert isinstance(progress_bar(total=3, file=io.StringIO()), LineProgress)
    term = progress_bar(total=3, file=Terminal())
    assert isinstance(term, tqdm) and not isinstance(term, LineProgress)
    term.close()
    text_bar = progress_bar(total=3, file=notebook_stream(), widget=False)  # the download's: no ipywidgets
    assert type(text_bar) is tqdm
    text_bar.close()
