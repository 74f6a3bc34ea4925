"""The trade gate: signal -> ticker blocklist -> the strategy's enabled enhancements -> decision.

Risk limits and the kill switch are chained after this gate by the engine.
The gate never raises for a signal: bad signals and filters that cannot
decide block with a reason; a filter that raises is audit-logged and, unless
it is fatal, the trade proceeds on core logic.  Every verdict goes to the
strategy log and the tuning summary, never to the ledger.
"""

from __future__ import annotations

import time
import types
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import TYPE_CHECKING, Any, cast

from tbot_core.config import Settings
from tbot_core.enhancements.base import Enhancement, EnhancementEnv, Outcome, Verdict
from tbot_core.enhancements.registry import build_enhancements
from tbot_core.enhancements.ticker_blocklist import TickerBlocklist
from tbot_core.enhancements.tuning_tracker import TuningTracker
from tbot_core.enhancements.verdict_log import VerdictLog
from tbot_core.identity import Identity
from tbot_core.money import Money
from tbot_core.paths import HomePaths
from tbot_core.sanitize import scrub
from tbot_core.signals import SIDES, MarketContext, Signal
from tbot_core.state_schema import EnhancementRow, EnhancementStatus, TuningStats
from tbot_core.strategies.registry import STRATEGIES
from tbot_core.timeutil import utc_now

if TYPE_CHECKING:
    from tbot_core.audit import AuditLog

SIGNAL_CHECK = "signal"
WIN_RATE = Decimal("0.0001")  # the tracker's own summary shows four places too
EXIT_SIDE = "sell"


@dataclass(frozen=True, slots=True)
class GateDecision:
    allow: bool
    reason: str
    verdicts: tuple[Verdict, ...]


class _ModuleStats:
    __slots__ = ("allowed", "blocked", "last_reason", "errored")

    def __init__(self) -> None:
        self.allowed = self.blocked = 0
        self.last_reason = ""
        self.errored = False


class Gate:
    def __init__(
        self,
        settings: Settings,
        identity: Identity,
        paths: HomePaths,
        *,
        audit: AuditLog | None,
        broker_code: str,
        fundamentals: Any = None,
        clock: Callable[[], datetime] | None = None,
        persist: bool = True,
    ) -> None:
        self.settings = settings
        self.audit = audit
        env = EnhancementEnv(
            settings, identity, paths, broker_code.lower(), audit, fundamentals, clock or utc_now, persist
        )
        self.modules = build_enhancements(env)
        # The registry builds every module under its name: these two are always these classes.
        self.blocklist = cast(TickerBlocklist, self.modules["ticker_blocklist"])
        self.tracker = cast(TuningTracker, self.modules["tuning_tracker"])
        self._stats = {name: _ModuleStats() for name in self.modules}
        self._chains: dict[str, tuple[Enhancement, ...]] = {}
        self.log = (
            VerdictLog(paths.strategy_log(identity.BOT_IDENTITY, settings.log_format), settings.log_format)
            if persist
            else None
        )

    @classmethod
    def offline(cls, settings: Settings, identity: Identity, paths: HomePaths) -> Gate:
        """The gate for backtests: same modules and toggles; no audit, no logs, no session file."""
        return cls(settings, identity, paths, audit=None, broker_code=settings.broker, persist=False)

    def _chain(self, strategy: str) -> tuple[Enhancement, ...] | None:
        chain = self._chains.get(strategy)
        if chain is None:
            cls = STRATEGIES.get(strategy)
            if cls is None:
                return None
            wanted = [self.modules[name] for name in cls.enhancements]
            chain = self._chains[strategy] = (self.blocklist, *(m for m in wanted if m.is_filter and m.enabled))
        return chain

    def decide(self, signal: Signal, market: MarketContext) -> GateDecision:
        problem = signal_problem(signal)
        chain = None if problem else self._chain(signal.strategy)
        if problem is None and chain is None:
            problem = f"unknown strategy {signal.strategy!r}: no filters to apply"
        if problem is not None:
            verdict = Verdict(SIGNAL_CHECK, False, problem, {}, 0.0)
            return self._finish(signal, (verdict,), verdict)
        if signal.side == EXIT_SIDE:
            # Long only: a sell closes a position. Entry filters and the ticker blocklist
            # must never trap an open position; risk and the kill switch still apply after the gate.
            verdict = Verdict(SIGNAL_CHECK, True, "exit: entry filters do not apply to closing a position", {}, 0.0)
            return self._finish(signal, (verdict,), None)
        assert chain is not None  # no problem: the strategy's chain was found
        verdicts: list[Verdict] = []
        for module in chain:
            verdict = self._run(module, signal, market)
            verdicts.append(verdict)
            if not verdict.allow:
                return self._finish(signal, tuple(verdicts), verdict)
        return self._finish(signal, tuple(verdicts), None)

    def _run(self, module: Enhancement, signal: Signal, market: MarketContext) -> Verdict:
        stats = self._stats[module.name]
        start = time.perf_counter_ns()
        try:
            allow, reason, context = module.evaluate(signal, market)
            stats.errored = False
        except Exception as exc:
            allow, reason, context = self._module_failed(module, signal, exc)
            stats.errored = True
        latency = (time.perf_counter_ns() - start) / 1000.0
        if allow:
            stats.allowed += 1
        else:
            stats.blocked += 1
        stats.last_reason = reason
        return Verdict(module.name, allow, reason, context, latency)

    def _module_failed(self, module: Enhancement, signal: Signal, exc: Exception) -> Outcome:
        what = scrub(f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:300]
        if self.audit is not None:
            try:
                self.audit.append(
                    "enhancement",
                    "module_error",
                    {
                        "module": module.name,
                        "fatal": module.fatal,
                        "error": what,
                        "strategy": signal.strategy,
                        "symbol": signal.symbol,
                        "side": signal.side,
                    },
                    severity="error",
                )
            except Exception:
                pass
        if module.fatal:
            return Outcome(False, f"{module.name} failed ({what}); fatal module: trade blocked", {"error": what})
        return Outcome(True, f"{module.name} failed ({what}); proceeding on core logic", {"error": what})

    def _finish(self, signal: Signal, verdicts: tuple[Verdict, ...], blocker: Verdict | None) -> GateDecision:
        if blocker is None:
            if signal.side != EXIT_SIDE:
                self.blocklist.mark(signal)
            reason = f"allowed by {len(verdicts)} check(s)"
        else:
            reason = f"{blocker.module}: {blocker.reason}"
        if self.log is not None:
            self.log.add(signal, verdicts)
        if self.tracker.enabled:
            self.tracker.observe(signal.strategy, blocker is None, blocker.module if blocker else None)
        return GateDecision(blocker is None, reason, verdicts)

    def record_trade(self, strategy: str, pnl: Decimal) -> None:
        """A closed trade's realised PnL, for the tuning summary."""
        if self.tracker.enabled:
            self.tracker.record_trade(strategy, pnl)

    def tuning(self) -> dict[str, dict[str, Any]]:
        return self.tracker.summary()

    def tuning_view(self) -> Mapping[str, TuningStats]:
        """state.json ``tuning``: empty until the tracker has seen a signal (the writer then leaves it out)."""
        return types.MappingProxyType(
            {
                name: TuningStats(
                    trades=stats.trades,
                    win_rate=None if not stats.trades else (Decimal(stats.wins) / stats.trades).quantize(WIN_RATE),
                    realized_pnl=Money(stats.pnl),
                    max_drawdown=Money(stats.max_drawdown),
                    avg_duration_s=None,  # the tracker does not time round trips yet
                    blocks=types.MappingProxyType(dict(stats.blocks)),
                )
                for name, stats in sorted(self.tracker.stats.items())
            }
        )

    def flush(self) -> None:
        """Write buffered verdicts and the tuning summary (call periodically and at shutdown)."""
        if self.log is not None:
            self.log.flush()
        self.tracker.flush()

    close = flush

    def enhancement_status(self) -> tuple[EnhancementRow, ...]:
        """state.json ``enhancements``: one frozen row per module, in registry order."""
        rows = []
        for name, module in self.modules.items():
            stats = self._stats[name]
            status = (
                EnhancementStatus.DISABLED
                if not module.enabled
                else EnhancementStatus.ERROR
                if stats.errored
                else EnhancementStatus.OK
            )
            rows.append(
                EnhancementRow(
                    module=name,
                    enabled=module.enabled,
                    fatal=module.fatal,
                    status=status,
                    allowed=stats.allowed,
                    blocked=stats.blocked,
                    last_reason=stats.last_reason,
                )
            )
        return tuple(rows)


def signal_problem(signal: Signal) -> str | None:
    """Why a signal is unusable before any filter sees it, or None."""
    if not isinstance(signal, Signal):
        return f"not a Signal ({type(signal).__name__})"
    if not isinstance(signal.ts, datetime) or signal.ts.tzinfo is None:
        return "signal time is missing or not UTC"
    if signal.side not in SIDES:
        return f"side {signal.side!r}: expected buy or sell"
    if not signal.symbol or not isinstance(signal.symbol, str):
        return "signal has no symbol"
    price = signal.price
    if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
        return f"price {price!r}: expected a positive finite Decimal"
    return None
