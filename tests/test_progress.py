"""The progress line: counts, rate and ETA from an injected clock."""

import io

from brats_rev import progress


def test_progress_line_counts_rate_and_eta():
    now = [100.0]
    stream = io.StringIO()
    bar = progress.Progress(4, stream=stream, clock=lambda: now[0])
    assert bar.line() == "0/4 cases, 0 rejected, 0.00 cases/s, ETA ?"
    now[0] = 102.0
    bar.update()
    now[0] = 104.0
    bar.update(rejected=True)
    assert bar.line() == "2/4 cases, 1 rejected, 0.50 cases/s, ETA 00:00:04"
    assert stream.getvalue() == ("1/4 cases, 0 rejected, 0.50 cases/s, ETA 00:00:06\n"
                                 "2/4 cases, 1 rejected, 0.50 cases/s, ETA 00:00:04\n")


def test_progress_names_failures_as_asked():
    stream = io.StringIO()
    bar = progress.Progress(1, stream=stream, clock=lambda: 1.0, failure="failed")
    bar.update(rejected=True)
    assert stream.getvalue().startswith("1/1 cases, 1 failed, ")
