"""How the engine waits: for the broker before its first bar, and between retries.

Before the first bar the engine reads the account.  A broker that does not
answer then is reported to the watchdog (``on_broker_down``), which suspends
the core and probes with backoff; the engine waits, suspended, until the
broker answers, so a start or restart during an outage never exits.  Every
wait (broker down, retry backoff) is cut into short slices that beat the
engine's heartbeat and stop early on a stop request or a kill-switch halt.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from tbot_core.runtime.portfolio import Portfolio
from tbot_core.safety.error_handler import ErrorHandler, classify
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.timeutil import UtcTime

if TYPE_CHECKING:  # engine.py imports this module
    from tbot_core.runtime.engine import EngineControl

# Longest single sleep inside a wait: the heartbeat, the stop flag and the kill switch are looked at this often.
WAIT_SLICE_SECONDS = 0.25


class Waits:
    """Mixin for ``Engine`` (engine thread only)."""

    def _connect(self) -> bool:
        """Read the account before trading; while the broker does not answer, stay suspended and wait for it."""
        reported = False
        while not self.control.stop.is_set():
            self.busy_since = self.beat = self._clock()
            try:
                self.portfolio.refresh()
                self._tell_holdings()
                self.busy_since = None
                return True
            except Exception as exc:
                if classify(exc) != "NetworkError":
                    raise
                if not reported:
                    reported = True
                    self.errors.record(exc, context={"where": "engine start: reading the account"})
                    if self.on_broker_down is not None:
                        self.on_broker_down(f"broker unreachable at engine start: {exc}")
                    else:
                        self.control.suspended = True
            if not self.control.suspended:  # resumed, yet the account read still fails: pause, never a hot loop
                self._wait(WAIT_SLICE_SECONDS, halt_ends=False)
            # The watchdog resumes the broker when a heartbeat answers; until then, wait in slices.
            while self.control.suspended and not self.control.stop.is_set():
                self._wait(WAIT_SLICE_SECONDS, halt_ends=False)
        self.busy_since = None
        return False

    def _retry_wait(self, seconds: float) -> bool:
        """The error handler's wait between order retries: True (give up) on a stop or a halt."""
        return bool(self._wait(seconds))

    def _wait(self, seconds: float, *, halt_ends: bool = True) -> str:
        """Sleep up to ``seconds`` in slices: "" when it ran out, "stop" or "halted" when that cut it short."""
        deadline = self._clock() + seconds
        while True:
            self.beat = self._clock()
            if self.control.stop.is_set():
                return "stop"
            if halt_ends:
                if self._ts_text:
                    self._check_pnl()  # the kill switch judges the latest marks during the wait too
                if self.kill.triggered:
                    return "halted"
            left = deadline - self._clock()
            if left <= 0:
                return ""
            self.control.stop.wait(min(left, WAIT_SLICE_SECONDS))

    # provided by Engine
    _clock: Callable[[], float]
    _ts_text: UtcTime
    beat: float
    busy_since: float | None
    control: EngineControl
    errors: ErrorHandler
    kill: KillSwitch
    portfolio: Portfolio
    on_broker_down: Callable[[str], None] | None
    _check_pnl: Callable[[], None]
    _tell_holdings: Callable[[], None]
