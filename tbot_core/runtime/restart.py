"""Restart policy from the Emergency Event Matrix's Reboot column, with doubling backoff.

The budget is per window of time, not per process lifetime: at most
``RESTART_MAX_ATTEMPTS`` restarts within any ``RESTART_WINDOW_SECONDS``.  A
core that survives a transient feed outage every few hours for weeks must not
be ended by the sixth one, while a core that keeps failing within minutes
must give up.  The delay doubles with the restarts still inside the window.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field

from tbot_core.emergency import matrix_row


@dataclass
class RestartPolicy:
    max_attempts: int
    base_delay_s: float
    window_s: float
    clock: Callable[[], float] = time.monotonic
    _times: deque[float] = field(default_factory=deque)

    @property
    def attempts(self) -> int:
        """Restarts inside the current window."""
        self._expire()
        return len(self._times)

    def allows(self, matrix_key: str) -> bool:
        """True when the event's row says Reboot: Yes and the window's budget is not used up."""
        return not self.refusal(matrix_key)

    def refusal(self, matrix_key: str) -> str:
        """Why a restart is refused ("" when it is allowed): the row forbids it, or the budget is spent."""
        if not matrix_row(matrix_key).reboot:
            return "no reboot for this event (Emergency Event Matrix)"
        if self.attempts >= self.max_attempts:
            return (
                f"restart budget exhausted: {self.attempts} restarts in the last {self.window_s:g} s "
                f"(RESTART_MAX_ATTEMPTS={self.max_attempts}, RESTART_WINDOW_SECONDS={self.window_s:g})"
            )
        return ""

    def next_delay(self) -> float:
        """Count one restart and return its delay: base, 2x base, 4x base, ... within the window."""
        self._expire()
        self._times.append(self.clock())
        return self.base_delay_s * 2.0 ** (len(self._times) - 1)

    def _expire(self) -> None:
        horizon = self.clock() - self.window_s
        while self._times and self._times[0] <= horizon:
            self._times.popleft()
