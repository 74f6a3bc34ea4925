"""The sweep's progress line: runs done/total, runs/s and ETA.

On a terminal one line is redrawn in place (at most every 0.2 s); anywhere else (a log, a pipe, CI) a
plain line is printed every 5 s and at the end, so a log is not flooded with carriage returns.
"""

from __future__ import annotations

import sys
import time
from typing import TextIO


def _duration(seconds: float) -> str:
    seconds = int(max(seconds, 0))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


class Progress:
    def __init__(self, total: int, *, stream: TextIO | None = None, reused: int = 0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.total = total
        self.done = reused
        self.ran = 0
        self.started = time.perf_counter()
        self._shown = 0.0

    def line(self) -> str:
        elapsed = time.perf_counter() - self.started
        rate = self.ran / elapsed if elapsed > 0 else 0.0
        left = max(self.total - self.done, 0)
        eta = _duration(left / rate) if rate > 0 else "?"
        width = 24
        filled = int(width * self.done / self.total) if self.total else width
        bar = "#" * filled + "." * (width - filled)
        return f"[{bar}] {self.done}/{self.total} runs  {rate:.1f} runs/s  ETA {eta}"

    def add_total(self, extra: int) -> None:
        self.total += extra

    def tick(self, *, ran: bool = True) -> None:
        self.done += 1
        self.ran += int(ran)
        now = time.monotonic()
        if now - self._shown >= (0.2 if self.tty else 5.0):
            self._show()
            self._shown = now

    def _show(self) -> None:
        text = self.line()
        if self.tty:
            self.stream.write("\r" + text + "\x1b[K")
        else:
            self.stream.write(text + "\n")
        self.stream.flush()

    def finish(self) -> None:
        self._show()
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
