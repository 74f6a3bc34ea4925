"""Fault-injecting parts for the core, passed into ``tbot_core.runtime.wiring.build_parts`` as ``Fakes``.

They wrap the real broker, feed and notifier (or add a strategy) and misbehave
on a schedule.  Nothing here is reachable from a production home: the core
only meets them when a test builds it with ``run_core(home, fakes)``, e.g.
through ``python -m tests.fakes.core_main``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from dataclasses import replace
from decimal import ROUND_DOWN, Decimal
from pathlib import Path
from typing import Any

from tbot_core.bars import Bar
from tbot_core.errors import BrokerError, LogicError, NetworkError
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
        return [
            Signal(bar.ts, self.name, bar.symbol, side, Decimal(str(bar.close)), "scripted test signal", {"vix": vix})
        ]


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

    CALLS = (
        "account",
        "positions",
        "submit_order",
        "cancel_order",
        "open_orders",
        "order_status",
        "fills_since",
        "cancel_all",
        "heartbeat",
    )

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


# -- fakes for the seeded fault simulator (tests/sim) ---------------------------------------------------------
# Each one is driven by callables the simulator hands in, so a fault is on exactly when the seed's schedule says.


class SwitchedBroker(_Proxy):
    """The real broker behind a switch: while ``down()`` every API call raises NetworkError.

    ``before_submit(request)`` runs just before an order reaches the real broker (the simulator
    checks its order invariants there, with the core's state at that very instant).  ``leak`` is
    appended to outage messages: a secret-looking text the core must scrub from every log and file.
    """

    CALLS = FlakyBroker.CALLS

    def __init__(
        self,
        inner: Any,
        *,
        down: Any,
        before_submit: Any,
        leak: str = "",
        slow: Any = None,
        sleep: Any = None,
        rejects: Any = None,
        partial: Any = None,
    ) -> None:
        super().__init__(inner)
        self.code = inner.code
        self._down, self._before_submit, self.leak = down, before_submit, leak
        self._slow, self._sleep = slow, sleep  # slow() -> seconds a heartbeat takes to answer (an HTTP timeout)
        self._rejects = rejects or (lambda: False)  # rejects() -> the venue refuses this order
        self._partial = partial or (lambda: False)  # partial() -> half of it fills, the rest is canceled

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if name not in self.CALLS:
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            if name == "heartbeat" and self._slow is not None and self._slow() > 0:
                self._sleep(self._slow())
            if self._down():
                raise NetworkError(f"{self.code}: simulated API outage ({name}); upstream said {self.leak}")
            if name == "submit_order":
                return self._submit(attr, args[0] if args else kwargs["request"])
            return attr(*args, **kwargs)

        return call

    def _submit(self, submit: Any, request: Any) -> Any:
        self._before_submit(request)
        if self._rejects():
            raise BrokerError(f"{self.code}: order {request.client_order_id} rejected by the venue (simulated)")
        part = (request.qty / 2).to_integral_value(ROUND_DOWN)
        if not self._partial() or part < 1:
            return submit(request)
        order = submit(replace(request, qty=part))
        if order.status != "filled":
            return order
        return replace(order, qty=request.qty, status="partially_filled", filled_qty=part)  # the rest canceled

    def on_bar(self, bar: Bar, close_cents: int, bar_utc: str) -> Any:
        return self._inner.on_bar(bar, close_cents, bar_utc)  # market data in, not an API call


class SteppedFeed(_Proxy):
    """The real replay feed, one bar per ``bar_seconds`` of sim time, that stalls or fails on command.

    While ``stalled()`` it delivers nothing and its heartbeat fails (the watchdog's feed timeout
    decides); when ``fail()`` says so, ``bars()`` raises a NetworkError (the feed itself broke).
    """

    def __init__(self, inner: Any, *, sleep: Any, bar_seconds: float, stalled: Any, fail: Any) -> None:
        super().__init__(inner)
        self._sleep, self.bar_seconds, self._stalled, self._fail = sleep, bar_seconds, stalled, fail
        self.closed = False

    def bars(self) -> Iterator[Bar]:
        for bar in self._inner.bars():
            self._sleep(self.bar_seconds)
            while self._stalled() and not self.closed:
                self._sleep(self.bar_seconds)
            if self.closed:
                return
            if self._fail():
                raise NetworkError("replay feed: simulated data API failure")
            yield bar

    def heartbeat(self) -> None:
        if self._stalled():
            raise NetworkError("replay feed: no bar (stalled by the simulator)")
        self._inner.heartbeat()

    def close(self) -> None:
        self.closed = True
        self._inner.close()


class RecordingNotifier(_Proxy):
    """The real notifier's interface, recording every alert into ``sent`` instead of sending it.

    No sending thread is started (the simulator runs without free-running threads); ``raises(event)``
    makes ``notify`` raise for that event (a broken alert path inside a callback).
    """

    def __init__(self, inner: Any, *, sent: list, raises: Any) -> None:
        super().__init__(inner)
        self.sent, self._raises = sent, raises

    def notify(self, event: str, cause: str, **kwargs: Any) -> None:
        if self._raises(event):
            raise RuntimeError(f"injected notifier failure on {event}")
        self.sent.append((event, cause, kwargs))

    def start(self) -> None:
        """Nothing to start: nothing is sent."""

    def close(self, timeout_s: float = 10.0) -> None:
        """Nothing queued."""

    def died_of(self) -> str:
        return ""


class HookedStrategy(ScriptedStrategy):
    """``ScriptedStrategy`` that first calls ``hook(bar)``: the simulator raises or hangs there on schedule."""

    def __init__(self, every: int, hook: Any) -> None:
        super().__init__(every)
        self.hook = hook

    def on_bar(self, bar: Bar, vix: float | None) -> list[Signal]:
        self.hook(bar)
        return super().on_bar(bar, vix)


def faulty_filters(gate: Any, raises: Any) -> Any:
    """The real gate, whose filter modules raise inside ``evaluate`` while ``raises(module_name)`` says so.

    The gate's own error path then decides (audit ``module_error``; a fatal module blocks the trade, any
    other lets it proceed on core logic).  Each module keeps its identity; only its ``evaluate`` is wrapped.
    """
    for name, module in gate.modules.items():
        if not getattr(module, "is_filter", False):
            continue

        def evaluate(signal: Any, market: Any, _inner: Any = module.evaluate, _name: str = name) -> Any:
            if raises(_name):
                raise LogicError(f"injected failure inside filter {_name}")
            return _inner(signal, market)

        module.evaluate = evaluate
    return gate


class DiskFaults:
    """I/O errors and a full disk on one database, as the core sees them: its write statements fail.

    ``arm(db, kind, after, count)``: the ``after``-th write statement (INSERT/UPDATE/DELETE/CREATE)
    on a connection to ``db`` (``core.db``, ``ledger.db``, ``audit.db``) and the ``count - 1`` after
    it raise ``apsw.IOError`` (kind ``io``) or ``apsw.FullError`` (``full``), as SQLite does when it
    cannot write a page; the caller's transaction then rolls back.  Installed on every new connection
    through ``apsw.connection_hooks`` (APSW's public hook) as an exec tracer.  Not a Python VFS here:
    APSW re-raises any exception inside a Python VFS at the next API call, including the lock SQLite
    is refused (and ignores) when a read-only connection closes, so a pass-through VFS as the
    process default breaks every read-only reader of a WAL database.
    """

    WRITES = ("INSERT", "UPDATE", "DELETE", "CREATE", "REPLACE")

    def __init__(self) -> None:
        import apsw

        self._apsw = apsw
        self.targets: list[list[Any]] = []  # [db, kind, countdown, remaining]
        self.fired: list[str] = []
        apsw.connection_hooks.append(self._hook)

    def _hook(self, conn: Any) -> None:
        name = Path(conn.filename).name if conn.filename else ""
        if name.endswith(".db"):
            conn.exec_trace = lambda _cursor, sql, _bindings: self._check(name, sql)

    def arm(self, db: str, kind: str, after: int = 1, count: int = 1) -> None:
        self.targets.append([db, kind, after, count])

    def _check(self, db: str, sql: str) -> bool:
        if not self.targets or not sql.lstrip()[:7].upper().startswith(self.WRITES):
            return True
        for target in self.targets:
            if target[3] <= 0 or db != target[0]:
                continue
            target[2] -= 1
            if target[2] <= 0:
                target[3] -= 1
                self.fired.append(f"{target[1]}:{db}")
                raise (self._apsw.FullError if target[1] == "full" else self._apsw.IOError)(
                    f"injected {target[1]} fault on {db}"
                )
        return True

    def close(self) -> None:
        self._apsw.connection_hooks.remove(self._hook)
