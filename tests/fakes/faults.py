"""Fault-injecting parts for the core, passed into ``tbot_core.runtime.wiring.build_parts`` as ``Fakes``.

They wrap the real broker, feed and notifier (or add a strategy) and misbehave
on a schedule.  Nothing here is reachable from a production home: the core
only meets them when a test builds it with ``run_core(home, fakes)``, e.g.
through ``python -m tests.fakes.core_main``.
"""

from __future__ import annotations

import threading
import time
from decimal import Decimal
from pathlib import Path
from typing import Any, Iterator

from tbot_core.data.base import Bar
from tbot_core.errors import LogicError, NetworkError
from tbot_core.signals import Signal


class ScriptedStrategy:
    """On every Nth bar, buy the bar's symbol, or sell it if the last signal was a buy."""

    name = "mid"

    def __init__(self, every: int) -> None:
        self.every = every
        self.count = 0
        self.long: set[str] = set()

    def on_bar(self, bar: Bar, vix: float | None) -> list[Signal]:
        self.count += 1
        if self.count % self.every:
            return []
        side = "sell" if bar.symbol in self.long else "buy"
        (self.long.discard if side == "sell" else self.long.add)(bar.symbol)
        return [Signal(bar.ts, self.name, bar.symbol, side, Decimal(str(bar.close)), "scripted test signal", {"vix": vix})]


class FaultAtBar:
    """A strategy that raises a LogicError every time it sees the Nth bar of a run (counted across restarts)."""

    name = "mid"
    seen = 0  # class-level: a restarted engine builds a new instance, the count goes on

    def __init__(self, at_bar: int) -> None:
        self.at_bar = at_bar

    def on_bar(self, bar: Bar, vix: float | None) -> list[Signal]:
        if FaultAtBar.seen + 1 == self.at_bar:
            raise LogicError(f"injected fault at bar {self.at_bar}")
        FaultAtBar.seen += 1
        return []


class HangAtBar:
    """A strategy whose Nth bar (counted across restarts) takes ``seconds`` to return: a stuck call."""

    name = "mid"
    seen = 0

    def __init__(self, at_bar: int, seconds: float) -> None:
        self.at_bar, self.seconds = at_bar, seconds

    def on_bar(self, bar: Bar, vix: float | None) -> list[Signal]:
        HangAtBar.seen += 1
        if HangAtBar.seen % self.at_bar == 0:
            time.sleep(self.seconds)
        return []


class _Proxy:
    """Passes every attribute through to the wrapped part."""

    def __init__(self, inner: Any) -> None:
        self._inner = inner

    def __getattr__(self, name: str) -> Any:
        return getattr(self._inner, name)


class FlakyBroker(_Proxy):
    """The real broker, unreachable while ``down()`` says so; every call then raises NetworkError.

    Outages: from the start while the file ``up_when`` does not exist; and/or
    from the ``after_bars``-th bar for ``seconds``.
    """

    CALLS = ("account", "positions", "submit_order", "cancel_order", "open_orders", "order_status", "fills_since",
             "cancel_all", "heartbeat")

    def __init__(self, inner: Any, *, up_when: Path | None = None, after_bars: int = 0, seconds: float = 0.0) -> None:
        super().__init__(inner)
        self.code = inner.code
        self.up_when, self.after_bars, self.seconds = up_when, after_bars, seconds
        self.bars = 0
        self.outage_until: float | None = None
        self.calls_while_down: list[str] = []

    def down(self) -> bool:
        if self.up_when is not None and not self.up_when.exists():
            return True
        return self.outage_until is not None and time.monotonic() < self.outage_until

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.CALLS:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if self.down():
                self.calls_while_down.append(name)
                raise NetworkError(f"{self.code}: simulated API outage ({name})")
            return attr(*args, **kwargs)

        return call

    def on_bar(self, bar: Bar, close_cents: int, bar_utc: str) -> Any:
        self.bars += 1
        if self.after_bars and self.bars == self.after_bars and self.seconds > 0:
            self.outage_until = time.monotonic() + self.seconds
        return self._inner.on_bar(bar, close_cents, bar_utc)  # market data in, not an API call: never fails


class StallingFeed(_Proxy):
    """The real feed, which stops delivering after N bars: its heartbeat fails and ``bars()`` blocks until closed."""

    def __init__(self, inner: Any, after_bars: int) -> None:
        super().__init__(inner)
        self.after_bars = after_bars
        self.delivered = 0
        self.stalled = False
        self._closed = threading.Event()

    def bars(self) -> Iterator[Bar]:
        for bar in self._inner.bars():
            if self.delivered >= self.after_bars:
                self.stalled = True
                self._closed.wait()
                return
            self.delivered += 1
            yield bar

    def heartbeat(self) -> None:
        if self.stalled:
            raise NetworkError(f"replay feed: no bar since bar {self.delivered} (stalled by the test)")
        self._inner.heartbeat()

    def close(self) -> None:
        self._closed.set()
        self._inner.close()


class RaisingNotifier(_Proxy):
    """The real notifier, whose ``notify`` raises for the listed events (a broken alert path inside a callback)."""

    def __init__(self, inner: Any, events: set[str]) -> None:
        super().__init__(inner)
        self.events = events

    def notify(self, event: str, cause: str, **kwargs: Any) -> None:
        if event in self.events:
            raise RuntimeError(f"injected notifier failure on {event}")
        self._inner.notify(event, cause, **kwargs)
