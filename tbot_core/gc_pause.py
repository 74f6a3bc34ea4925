"""Pause Python's cyclic garbage collector while a ledger batch is posted or a fast backtest runs.

A batch of 100,000 legs allocates a few hundred thousand tuples (group and leg
rows, their parameter chunks) that all live until its COMMIT.  Every 700 such
allocations start a collection, and the survivors soon trigger full ones that
walk every object of the process: measured (``bench/ledger.py``) about a
fifth of a posting's time, spent finding nothing, since the rows hold no
reference cycles.  Reference counting still frees everything as usual while
the collector waits; it runs again as soon as the last batch in progress ends.

Process-wide, so shared by every thread: the first batch to start pauses it
(only if it was enabled) and the last to end resumes it.
"""

from __future__ import annotations

import gc
import threading
from types import TracebackType


class _GcPause:
    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._depth = 0
        self._resume = False

    def __enter__(self) -> None:
        with self._lock:
            if self._depth == 0:
                self._resume = gc.isenabled()
                gc.disable()
            self._depth += 1

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        with self._lock:
            self._depth -= 1
            if self._depth == 0 and self._resume:
                gc.enable()


gc_paused = _GcPause()
