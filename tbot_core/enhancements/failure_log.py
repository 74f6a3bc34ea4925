"""Rate limit for module-failure audit rows: a failing data source must never flood the audit log.

A module that fails on every signal (Finnhub down for an hour, no VIX feed)
would otherwise write one audit row per signal.  ``FailureThrottle`` lets one
row per (module, failure kind) through per window; the failures in between are
counted, and the next row that gets through carries that count
(``suppressed_before``); counts left when the failures stop are given by
``due()`` once their window has passed (or all of them at shutdown), so
nothing is lost from the record, only folded.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from tbot_core.timeutil import utc_now

# One audit row per module and failure kind per this window.
FAILURE_AUDIT_WINDOW = timedelta(minutes=5)


class FailureThrottle:
    def __init__(self, window: timedelta = FAILURE_AUDIT_WINDOW, clock: Callable[[], datetime] = utc_now) -> None:
        if window <= timedelta(0):
            raise ValueError("window: expected a positive duration")
        self.window = window
        self._clock = clock
        self._last: dict[tuple[str, str], datetime] = {}
        self._suppressed: dict[tuple[str, str], int] = {}

    def admit(self, module: str, kind: str) -> int | None:
        """None: this failure is only counted.  Otherwise write a row now, carrying the returned count of
        failures of this module and kind suppressed since its previous row."""
        key = (module, kind)
        now = self._clock()
        last = self._last.get(key)
        if last is not None and now - last < self.window:
            self._suppressed[key] = self._suppressed.get(key, 0) + 1
            return None
        self._last[key] = now
        return self._suppressed.pop(key, 0)

    def due(self, *, everything: bool = False) -> list[tuple[str, str, int]]:
        """(module, kind, count) of suppressed failures whose window has passed (or all, at shutdown).

        Each one returned is reported now, so it opens a new window: still one row per window.
        """
        now = self._clock()
        out = []
        for key, count in list(self._suppressed.items()):
            if everything or now - self._last[key] >= self.window:
                out.append((key[0], key[1], count))
                del self._suppressed[key]
                self._last[key] = now
        return out

    @property
    def window_minutes(self) -> float:
        return self.window.total_seconds() / 60
