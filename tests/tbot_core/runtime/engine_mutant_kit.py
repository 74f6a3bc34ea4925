"""A real engine for the engine's mutation tests: the core's own wiring (``build_parts``) on a real home, with
core.db, the audit log, the paper broker and the replay feed, plus the seams the engine takes in its
constructor: a sim clock, the control switches (whose stop event advances the sim clock instead of sleeping),
the ``on_broker_down`` callback, and a broker wrapper that fails the calls a test names.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import read_flags
from tbot_core.core_store import CoreStore
from tbot_core.home import BotHome
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.runtime.wiring import Fakes, build_parts
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.signals import Signal
from tbot_core.syslog import SystemLog
from tests.tbot_core.runtime.engine_kit import SESSION_STRATEGIES_OFF, AllowAll


class SimClock:
    """A clock that moves only when a test (or the engine's stop event) moves it.  A loop that reads it a
    million times without waiting is spinning: it raises instead of hanging the test."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start
        self.reads = 0

    def __call__(self) -> float:
        self.reads += 1
        if self.reads > 1_000_000:
            raise AssertionError("the clock was read a million times: a loop spins without waiting")
        return self.now


class SimStop(threading.Event):
    """The engine's stop event: ``wait`` advances the sim clock by its timeout (no real sleep) and records it;
    ``on_wait(n)`` runs after the n-th wait (a test brings the broker back, or asks to stop, there)."""

    def __init__(self, clock: SimClock) -> None:
        super().__init__()
        self.clock = clock
        self.waits: list[float] = []
        self.on_wait: Callable[[int], None] = lambda _n: None

    def wait(self, timeout: float | None = None) -> bool:
        assert timeout is not None
        self.waits.append(timeout)
        self.clock.now += timeout
        self.on_wait(len(self.waits))
        if len(self.waits) > 10_000:
            raise AssertionError("the engine waits forever")
        return self.is_set()


class Scripted:
    """The real broker, whose named calls raise the queued exceptions first (one per call), then pass through."""

    def __init__(self, inner: Any, *, simulated: bool | None = None) -> None:
        self._inner = inner
        self.code = inner.code
        # simulated=False: the engine treats it as a real broker (no fills on its bars; the ledger synced on a beat).
        self.simulated = inner.simulated if simulated is None else simulated
        self.fail: dict[str, list[BaseException]] = {}
        self.rewrite: dict[str, Callable[[Any], Any]] = {}  # the broker's answer to a call, as a test changes it
        self.calls: list[str] = []

    def __getattr__(self, name: str) -> Any:
        attr = getattr(self._inner, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            self.calls.append(name)
            queued = self.fail.get(name)
            if queued:
                raise queued.pop(0)
            answer = attr(*args, **kwargs)
            return self.rewrite[name](answer) if name in self.rewrite else answer

        return call


class Script:
    """A strategy that calls ``decide(index, bar)`` on every bar (index from 0) and emits what it returns:
    a side (``"buy"``/``"sell"``) for a signal on the bar's symbol, None for none; or it raises."""

    name = "mid"

    def __init__(self, decide: Callable[[int, Any], str | None]) -> None:
        self.decide = decide
        self.seen = 0
        self.vixes: list[float | None] = []

    def on_bar(self, bar: Any, vix: float | None) -> list[Signal]:
        index = self.seen
        self.seen += 1
        self.vixes.append(vix)
        side = self.decide(index, bar)
        if side is None:
            return []
        return [Signal(bar.ts, "mid", bar.symbol, side, Decimal(str(bar.close)), "scripted", {"vix": vix})]


class Kit:
    def __init__(
        self,
        root: Path,
        decide: Callable[[int, Any], str | None] = lambda i, bar: None,
        *,
        on_broker_down: Callable[[str], None] | None = None,
        on_suspend: Callable[[str], None] | None = None,
        gate: Any = None,
        feed: Callable[[Any], Any] | None = None,
        rng: Any = None,
        also: tuple[Any, ...] = (),
        live: bool = False,
        **overrides: str,
    ) -> None:
        home = BotHome(str(root))
        settings = home.settings.with_values({**SESSION_STRATEGIES_OFF, "LOG_FORMAT": "JSON", **overrides})
        ident, self.paths = home.identity, home.paths
        self.syslog_path = self.paths.system_log(ident.BOT_IDENTITY, "JSON")
        syslog = SystemLog(self.syslog_path, "JSON")
        self.audit = AuditLog(self.paths.audit_db)
        self.ctx = CoreContext(self.paths, settings, ident, syslog, self.audit, Matrix())
        self.store = CoreStore(self.paths.core_db)
        notifier = Notifier(lambda name: None, syslog, bot_identity=ident.BOT_IDENTITY)
        self.strategy = Script(decide)
        fakes = Fakes(
            broker=(lambda inner: Scripted(inner, simulated=False)) if live else Scripted,
            feed=feed or (lambda inner: inner),
            gate=(lambda _gate: gate or AllowAll()),
            strategies=lambda _settings: [self.strategy, *also],
        )
        parts = build_parts(home, self.ctx, self.store, notifier, fakes)
        self.broker: Scripted = parts.broker  # type: ignore[assignment]
        self.kill = KillSwitch(self.store, self.ctx, notifier, cancel_orders=parts.broker.cancel_all)
        self.clock = SimClock()
        self.stop = SimStop(self.clock)
        self.control = EngineControl(stop=self.stop)
        self.handler = ErrorHandler(self.ctx, broker_code=parts.broker.code, on_suspend=on_suspend, rng=rng)
        self.engine = Engine(
            self.ctx,
            store=self.store,
            broker=parts.broker,
            feed=parts.make_feed(self.store.cursor()[0]),
            strategies=parts.make_strategies(),
            gate=parts.gate,
            risk=parts.risk,
            kill_switch=self.kill,
            errors=self.handler,
            control=self.control,
            on_broker_down=on_broker_down,
            clock=self.clock,
        )

    def log(self, level: str | None = None, module: str | None = None) -> list[dict]:
        if not self.syslog_path.exists():
            return []
        rows = [json.loads(line) for line in self.syslog_path.read_text().splitlines()]
        return [r for r in rows if (level is None or r["level"] == level) and (module is None or r["module"] == module)]

    def flags(self):
        return read_flags(self.paths)[0]

    def orders(self) -> list[tuple]:
        return self.store.query("SELECT symbol, side, qty FROM paper_orders ORDER BY rowid")


def make_kit(
    tmp_path: Any,
    decide: Callable[[int, Any], Any] = lambda i, bar: None,
    bars: int = 4,
    symbols: tuple[str, ...] = ("SPY",),
    **kw: Any,
) -> Kit:
    """A kit over a fresh test home with ``bars`` bars per symbol."""
    from tests.tbot_core.runtime.core_harness import make_home

    return Kit(make_home(tmp_path, {}, bars=bars, symbols=symbols).root, decide, **kw)


def raise_(exc: BaseException) -> Any:
    raise exc


def verdicts_of(kit: Kit) -> list[tuple[str, bool, str]]:
    """The journal's verdicts, oldest first, as (module, allow, reason)."""
    return [(v.module, v.allow, v.reason) for v in reversed(kit.engine.journal.verdicts)]


class Low:
    """A random source that always answers the bottom of the range: every backoff is 0."""

    def uniform(self, low: float, high: float) -> float:
        return low


class Recording(AllowAll):
    """A gate that records what it was asked and answers with one module verdict of its own."""

    def __init__(self, allow: bool) -> None:
        self.allow = allow
        self.asked: list[tuple[Any, ...]] = []
        self.flushes = 0

    def decide(self, signal: Any, market: Any) -> Any:
        from tbot_core.enhancements.base import Verdict
        from tbot_core.gate import GateDecision

        self.asked.append((signal.symbol, market.vix))
        verdict = Verdict("vix_gatekeeper", self.allow, "vix checked", {}, 1.0)
        return GateDecision(self.allow, "vix checked", (verdict,))

    def flush(self) -> None:
        self.flushes += 1
