"""The watchdog: broker and feed heartbeats, launched and supervised only by the supervisor.

Every ``WATCHDOG_INTERVAL_SECONDS`` it probes ``broker.heartbeat()`` and
``feed.heartbeat()`` and tracks the age of the last success.  Broker age over
``WATCHDOG_BROKER_TIMEOUT_SECONDS``: the broker is suspended (no orders) and
probing continues; the first good probe resumes it.  Feed age over
``WATCHDOG_FEED_TIMEOUT_SECONDS``: market data is down and the supervisor is
asked for a controlled stop.  The watchdog only reports through callbacks: it
never stops anything itself.

A broker that is known to be down (it failed at start, or was suspended) is
probed with doubling backoff, capped at the broker timeout, so an outage of
hours costs a few probes a minute rather than one a second.  The engine can
report a hard failure it met itself (``broker_failed``): the broker is then
suspended at once instead of after the heartbeat timeout.  Each loop records
``last_loop`` so the supervisor can tell a stuck watchdog from a live one; an
exception in a callback ends the thread, and the supervisor restarts it once
(the beats, and so the suspended state, survive the restart).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Protocol

from tbot_core.config import Settings
from tbot_core.selfcheck import CheckResult
from tbot_core.state_schema import BeatState, BeatView, WatchdogView


class Probe(Protocol):
    def heartbeat(self) -> None: ...


def start_daemon(target: Callable[[], None], name: str) -> threading.Thread:
    """How the core starts a worker thread; the fault simulator passes its own (threads it schedules in sim time)."""
    thread = threading.Thread(target=target, name=name, daemon=True)
    thread.start()
    return thread


class _Beat:
    def __init__(self, threshold: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold = threshold
        self.clock = clock
        self.last_ok = clock()
        self.state = BeatState.OK
        self.cause = ""

    def age(self) -> float:
        return max(0.0, self.clock() - self.last_ok)

    def snapshot(self) -> BeatView:
        return BeatView(age_seconds=round(self.age(), 3), threshold_seconds=self.threshold, state=self.state)


class Watchdog:
    name = "watchdog_bot"

    def __init__(
        self,
        settings: Settings,
        *,
        broker: Callable[[], Probe | None],
        feed: Callable[[], Probe | None],
        on_broker_down: Callable[[str], None],
        on_broker_up: Callable[[str], None],
        on_feed_down: Callable[[str], None],
        clock: Callable[[], float] = time.monotonic,
        spawn: Callable[[Callable[[], None], str], threading.Thread] = start_daemon,
    ) -> None:
        self.interval = float(settings.watchdog_interval_seconds)
        self._clock, self._spawn = clock, spawn  # seams for the fault simulator (tests/sim); production passes none
        self.broker_beat = _Beat(float(settings.watchdog_broker_timeout_seconds), clock)
        self.feed_beat = _Beat(float(settings.watchdog_feed_timeout_seconds), clock)
        self._broker, self._feed = broker, feed
        self.on_broker_down, self.on_broker_up, self.on_feed_down = on_broker_down, on_broker_up, on_feed_down
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()  # broker state moves from the watchdog thread and the engine's
        self._broker_failures = 0  # consecutive failed probes while suspended: the backoff exponent
        self._next_broker_probe = 0.0
        self.last_loop = clock()
        self.died_of = ""

    def start(self) -> None:
        """Start (or, after a death, restart) the probing thread; the beats carry over."""
        self._stop.clear()
        self.last_loop = self._clock()
        self._thread = self._spawn(self._run, "watchdog")

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(max(2.0, self.interval * 3))

    def alive(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def rearm_feed(self) -> None:
        """A restarted engine has a new feed: start its clock afresh."""
        self.feed_beat = _Beat(self.feed_beat.threshold, self._clock)

    def snapshot(self) -> WatchdogView:
        """A frozen value for ``state.json``, taken under the lock the broker's state moves under."""
        with self._lock:
            return WatchdogView(broker=self.broker_beat.snapshot(), feed=self.feed_beat.snapshot())

    def probe_once(self) -> None:
        now = self._clock()
        if now >= self._next_broker_probe:
            self._probe_broker()
            self._next_broker_probe = now + self._broker_delay()
        self._probe_feed()

    def broker_failed(self, cause: str) -> None:
        """A hard broker failure seen outside a probe (e.g. at engine start): suspend now, probe with backoff."""
        with self._lock:
            beat = self.broker_beat
            beat.cause = cause
            if beat.state == BeatState.SUSPENDED:
                return
            beat.state = BeatState.SUSPENDED
            self._broker_failures = 0
            self._next_broker_probe = self._clock() + self.interval
        self.on_broker_down(cause)

    def broker_suspended(self) -> bool:
        return self.broker_beat.state == BeatState.SUSPENDED

    def _broker_delay(self) -> float:
        if self.broker_beat.state != BeatState.SUSPENDED:
            return 0.0
        return min(self.interval * 2.0**self._broker_failures, max(self.interval, self.broker_beat.threshold))

    def self_check(self) -> CheckResult:
        if self.interval >= min(self.broker_beat.threshold, self.feed_beat.threshold):
            return CheckResult.failed(
                self.name,
                f"WATCHDOG_INTERVAL_SECONDS {self.interval} is not below the heartbeat timeouts",
                "lower WATCHDOG_INTERVAL_SECONDS or raise the timeouts",
            )
        return CheckResult.passed(
            self.name,
            f"probe every {self.interval}s; broker timeout {self.broker_beat.threshold}s, "
            f"feed timeout {self.feed_beat.threshold}s",
        )

    # -- internals ----------------------------------------------------------------------
    def _run(self) -> None:
        try:
            while not self._stop.wait(self.interval):
                self.probe_once()
                self.last_loop = self._clock()
        except BaseException as exc:  # the supervisor sees the dead thread and restarts it once
            self.died_of = f"{type(exc).__name__}: {exc}"[:300]
            raise

    def _probe_broker(self) -> None:
        beat, broker = self.broker_beat, self._broker()
        if broker is None:
            return
        try:
            broker.heartbeat()
        except Exception as exc:
            with self._lock:
                beat.cause = f"{type(exc).__name__}: {exc}"
                went_down = beat.state != BeatState.SUSPENDED and beat.age() > beat.threshold
                if beat.state == BeatState.SUSPENDED:
                    self._broker_failures = min(self._broker_failures + 1, 16)
                elif went_down:
                    beat.state, self._broker_failures = BeatState.SUSPENDED, 0
                else:
                    beat.state = BeatState.STALE
            if went_down:
                self.on_broker_down(f"no broker heartbeat for {beat.age():.1f}s ({beat.cause})")
            return
        with self._lock:
            beat.last_ok = self._clock()
            came_back = beat.state == BeatState.SUSPENDED
            beat.state, self._broker_failures = BeatState.OK, 0
        if came_back:
            self.on_broker_up("broker heartbeat answered again")

    def _probe_feed(self) -> None:
        beat, feed = self.feed_beat, self._feed()
        if feed is None or beat.state == BeatState.DOWN:
            return
        try:
            feed.heartbeat()
        except Exception as exc:
            beat.cause = f"{type(exc).__name__}: {exc}"
            if beat.age() > beat.threshold:
                beat.state = BeatState.DOWN
                self.on_feed_down(f"no market data for {beat.age():.1f}s ({beat.cause})")
            else:
                beat.state = BeatState.STALE
            return
        beat.last_ok = self._clock()
        beat.state = BeatState.OK
