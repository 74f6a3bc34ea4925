"""The fault windows of one seed: planned from its schedule, then asked by the fakes as the core runs.

The fakes (broker, feed, notifier, gate filters, strategy) call back into the
simulation on the core's own threads to ask whether a fault is on right now.
Those answers depend only on the schedule and the sim clock, not on how the
driver starts, kills and checks lives, so they live apart from the driver
(``simulator.py``), as a mixin of its ``Sim``.
"""

from __future__ import annotations

from typing import Any

from tbot_core.errors import LogicError
from tests.fakes.faults import DiskFaults
from tests.sim.home import SECRETS
from tests.sim.sched import Scheduler
from tests.sim.schedules import Schedule


class FaultWindows:
    """When each scheduled fault is on, and what a fake sees when it asks; every fault that hits goes into ``fired``.

    Reads the ``Sim``'s clock (``now()``), its current ``life`` and the attributes declared here.
    """

    schedule: Schedule
    sched: Scheduler
    fired: set[str]
    fatal_life: int
    vfs: DiskFaults | None

    def __init__(self) -> None:
        self._down: list[tuple[float, float]] = []
        self._stalls: list[tuple[float, float]] = []
        self._feed_errors: list[float] = []
        self._engine_errors: list[float] = []
        self._bug_from: float | None = None
        self._hangs: list[tuple[float, float]] = []
        self._stuck_from: float | None = None  # from then on every bar's strategy call takes 60 s (stuck)
        self._slow: list[tuple[float, float, float]] = []  # (from, to, seconds a broker heartbeat takes)
        self._notifier_raises: dict[str, float] = {}
        self._filters: list[tuple[float, float]] = []
        self._rejects: list[tuple[float, float]] = []
        self._partials: list[tuple[float, float]] = []

    def _plan(self) -> None:
        for f in self.schedule.faults:
            if f.kind == "broker_down":
                self._down.append((f.at, f.at + float(f.arg)))
            elif f.kind == "feed_stall":
                self._stalls.append((f.at, f.at + float(f.arg)))
            elif f.kind == "feed_error":
                self._feed_errors.append(f.at)
            elif f.kind == "filter_error":
                self._filters.append((f.at, f.at + float(f.arg)))
            elif f.kind == "slow_heartbeat":
                self._slow.append((f.at, f.at + 10, float(f.arg)))
            elif f.kind == "engine_error":
                self._engine_errors.append(f.at)
            elif f.kind == "engine_bug":
                self._bug_from = min(self._bug_from or f.at, f.at)
            elif f.kind == "short_hang":
                self._hangs.append((f.at, float(f.arg)))
            elif f.kind == "long_hang":
                self._stuck_from = min(self._stuck_from or f.at, f.at)
            elif f.kind == "notifier_raises":
                self._notifier_raises[f.arg] = min(self._notifier_raises.get(f.arg, f.at), f.at)
            elif f.kind == "broker_rejects":
                self._rejects.append((f.at, f.at + float(f.arg)))
            elif f.kind == "partial_fills":
                self._partials.append((f.at, f.at + float(f.arg)))

    # -- what the fakes ask ---------------------------------------------------------------------
    def broker_down(self) -> bool:
        t = self.now()
        down = any(a <= t < b for a, b in self._down)
        if down:
            self.fired.add("broker_down")
        return down

    def _window_on(self, windows: list[tuple[float, float]], kind: str) -> bool:
        t = self.now()
        on = any(a <= t < b for a, b in windows)
        if on:
            self.fired.add(kind)
        return on

    def filter_raises(self, _module: str) -> bool:
        t = self.now()
        on = any(a <= t < b for a, b in self._filters)
        if on:
            self.fired.add("filter_error")
        return on

    def heartbeat_delay(self) -> float:
        t = self.now()
        delay = max((d for a, b, d in self._slow if a <= t < b), default=0.0)
        if delay:
            self.fired.add("slow_heartbeat")
        return delay

    def feed_stalled(self) -> bool:
        t = self.now()
        stalled = any(a <= t < b for a, b in self._stalls)
        if stalled:
            self.fired.add("feed_stall")
        return stalled

    def feed_fails(self) -> bool:
        due = [a for a in self._feed_errors if a <= self.now()]
        if due:
            self._feed_errors.remove(due[0])
            self.fired.add("feed_error")
        return bool(due)

    def audit_refused(self) -> bool:
        """Whether an injected fault made audit.db refuse a write (an audit row may then be missing)."""
        return self.vfs is not None and any(hit.endswith("audit.db") for hit in self.vfs.fired)

    def broken_alerts(self) -> set[str]:
        """Alerts the schedule made ``notify`` raise on (their rows cannot have been announced)."""
        return {event for event, since in self._notifier_raises.items() if since <= self.now()}

    def notifier_raises(self, event: str) -> bool:
        since = self._notifier_raises.get(event)
        if since is not None and since <= self.now():
            self.fired.add("notifier_raises")
            return True
        return False

    def strategy_hook(self, bar: Any) -> None:
        """Runs on the engine thread inside ``process_bar``: an exception or a stuck call, on schedule."""
        t = self.now()
        hangs = [h for h in self._hangs if h[0] <= t]
        if hangs:
            self._hangs.remove(hangs[0])
            self.fired.add("short_hang")
            self.sched.sleep(hangs[0][1])
        if self._stuck_from is not None and self._stuck_from <= t:
            self.fired.add("long_hang")
            self.fatal_life = self.life.number
            self.sched.sleep(60.0)
        due = [a for a in self._engine_errors if a <= t]
        if due:
            self._engine_errors.remove(due[0])
            self.fired.add("engine_error")
            raise LogicError(f"injected engine fault at {bar.symbol}; upstream said {SECRETS.leak}")
        if self._bug_from is not None and self._bug_from <= t:
            self.fired.add("engine_bug")
            self.fatal_life = self.life.number
            raise LogicError("injected persistent engine bug")
