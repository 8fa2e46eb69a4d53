"""A one-line progress bar on stderr: cases done, rejected (or failed), rate and ETA."""

import sys
import time


class Progress:
    """Counts finished cases and redraws one status line (one line per update off a terminal).

    Args:
      total: number of cases expected.
      stream: text stream to draw on (stderr by default).
      clock: monotonic seconds source (injectable for tests).
      failure: the word for cases that did not succeed ("rejected", "failed").
    """

    def __init__(self, total, stream=None, clock=time.monotonic, failure="rejected"):
        self.total = total
        self.done = 0
        self.rejected = 0
        self._stream = stream or sys.stderr
        self._clock = clock
        self._failure = failure
        self._start = clock()

    def line(self):
        """The status text, e.g. '  3/10 cases, 1 rejected, 0.50 cases/s, ETA 0:00:14'."""
        elapsed = max(self._clock() - self._start, 1e-9)
        rate = self.done / elapsed
        remaining = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = "?" if remaining != remaining else time.strftime("%H:%M:%S", time.gmtime(remaining))
        width = len(str(self.total))
        return (f"{self.done:>{width}}/{self.total} cases, {self.rejected} {self._failure}, "
                f"{rate:.2f} cases/s, ETA {eta}")

    def update(self, rejected=False):
        """Records one finished case and redraws."""
        self.done += 1
        self.rejected += int(rejected)
        if self._stream.isatty():
            end = "\n" if self.done == self.total else ""
            self._stream.write(f"\r{self.line()}{end}")
        else:
            self._stream.write(f"{self.line()}\n")
        self._stream.flush()
