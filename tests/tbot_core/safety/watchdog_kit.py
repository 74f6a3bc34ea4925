"""Helpers shared by the two watchdog mutation test files: probes that answer or raise, the real watchdog."""

from __future__ import annotations

import time

from tbot_core.safety.watchdog_bot import Watchdog


class Probe:
    """A broker or feed whose heartbeat raises while ``down``."""

    def __init__(self, error: Exception | None = None) -> None:
        self.error = error
        self.calls = 0

    def heartbeat(self) -> None:
        self.calls += 1
        if self.error is not None:
            raise self.error


class Calls:
    def __init__(self) -> None:
        self.broker_down: list[str] = []
        self.broker_up: list[str] = []
        self.feed_down: list[str] = []


def _watchdog(
    bot_home,
    broker: Probe | None,
    feed: Probe | None,
    *,
    interval="0.05",
    broker_timeout="0.1",
    feed_timeout="0.1",
    calls: Calls | None = None,
    on_broker_down=None,
) -> tuple[Watchdog, Calls]:
    settings = bot_home.settings.with_values(
        {
            "WATCHDOG_INTERVAL_SECONDS": interval,
            "WATCHDOG_BROKER_TIMEOUT_SECONDS": broker_timeout,
            "WATCHDOG_FEED_TIMEOUT_SECONDS": feed_timeout,
        }
    )
    calls = calls or Calls()
    dog = Watchdog(
        settings,
        broker=lambda: broker,
        feed=lambda: feed,
        on_broker_down=on_broker_down or calls.broker_down.append,
        on_broker_up=calls.broker_up.append,
        on_feed_down=calls.feed_down.append,
    )
    return dog, calls


def _past(seconds: float) -> None:
    """Let a heartbeat age pass a timeout of ``seconds`` (a wait, not a timing assertion)."""
    time.sleep(seconds * 1.5)


def _wait(predicate, what: str, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(0.01)
