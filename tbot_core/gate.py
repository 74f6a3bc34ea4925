"""The trade gate: signal -> ticker blocklist -> the strategy's enabled enhancements -> decision.

Risk limits and the kill switch are chained after this gate by the engine.
``decide`` never raises: bad signals and filters that cannot decide block
with a reason.  A module that fails (raises, or reports that its data source
failed: Finnhub down, VIX missing) is audit-logged, at most one row per module
and failure kind per window (``FailureThrottle``, with a count of the ones
folded away), and then its ``*_FATAL`` setting decides: true blocks the trade
naming the module, false judges the trade on core logic without it and the
verdict says so.  Anything else that goes wrong inside ``decide`` (a bug) is
an audited block: fail closed.  Every verdict goes to the strategy log and the
tuning summary, never to the ledger.

``decide`` only checks.  A ticker is used up for the session when an order
for it is actually sent: the engine calls ``order_sent`` after the broker took
the order, so an entry that risk, the kill switch, a suspension or a stop then
refuses leaves the ticker free for another strategy.  Exits never use a ticker.

The fast backtest's shortcuts (blocks the gate proves without a signal, counted as
``decide`` counts them) are in ``gate_offline``.
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
from tbot_core.enhancements.failure_log import FailureThrottle
from tbot_core.enhancements.registry import build_enhancements
from tbot_core.enhancements.ticker_blocklist import TickerBlocklist
from tbot_core.enhancements.tuning_tracker import TuningTracker
from tbot_core.enhancements.verdict_log import VerdictLog
from tbot_core.gate_offline import ModuleStats, OfflineShortcuts
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
GATE = "gate"  # the module name of a block for an error in the gate itself
WIN_RATE = Decimal("0.0001")  # the tracker's own summary shows four places too
EXIT_SIDE = "sell"


@dataclass(frozen=True, slots=True)
class GateDecision:
    allow: bool
    reason: str
    verdicts: tuple[Verdict, ...]


class Gate(OfflineShortcuts):
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
        replace: Mapping[str, Callable[[EnhancementEnv], Enhancement]] | None = None,
        throttle: FailureThrottle | None = None,
    ) -> None:
        self.settings = settings
        self.audit = audit
        clock = clock or utc_now
        env = EnhancementEnv(settings, identity, paths, broker_code.lower(), audit, fundamentals, clock, persist)
        # ``replace``: modules built otherwise (tests pass fakes that fail); ``throttle``: the failure-row rate limit.
        self.modules = build_enhancements(env, replace)
        self.throttle = throttle or FailureThrottle(clock=clock)
        # The registry builds every module under its name: these two are always these classes.
        self.blocklist = cast(TickerBlocklist, self.modules["ticker_blocklist"])
        self.tracker = cast(TuningTracker, self.modules["tuning_tracker"])
        self._stats = {name: ModuleStats() for name in self.modules}
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
        """Allow or block ``signal``; never raises (an error in here is an audited block)."""
        try:
            return self._decide(signal, market)
        except Exception as exc:
            return self._gate_failed(signal, exc)

    def _decide(self, signal: Signal, market: MarketContext) -> GateDecision:
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
            outcome = module.evaluate(signal, market)
        except Exception as exc:
            outcome = Outcome(False, one_line(exc), {}, type(exc).__name__)
        stats.errored = outcome.failure is not None
        if outcome.failure is not None:
            outcome = self._module_failed(module, signal, outcome)
        latency = (time.perf_counter_ns() - start) / 1000.0
        if outcome.allow:
            stats.allowed += 1
        else:
            stats.blocked += 1
        stats.last_reason = outcome.reason
        return Verdict(module.name, outcome.allow, outcome.reason, outcome.context, latency)

    def _module_failed(self, module: Enhancement, signal: Signal, failed: Outcome) -> Outcome:
        """Audit (rate-limited) a module's failure, then apply its *_FATAL setting: block, or skip the module."""
        kind = failed.failure or "error"
        what = scrub(" ".join(failed.reason.split()))[:300]
        fatal = module.fatal
        self._audit_failure(module.name, kind, fatal, what, signal)
        key = (module.fatal_key or "fatal").upper()
        context = {**failed.context, "error": what, "failure": kind}
        if fatal:
            return Outcome(False, f"{module.name} failed ({what}); fatal module ({key}=true): trade blocked", context)
        return Outcome(
            True,
            f"{module.name} failed ({what}); skipped ({key}=false): proceeding on core logic without it",
            context,
        )

    def _audit_failure(self, module: str, kind: str, fatal: bool, what: str, signal: object) -> None:
        """One ``module_error`` row per module and kind per throttle window; never raises."""
        try:
            suppressed = self.throttle.admit(module, kind)
            if suppressed is None or self.audit is None:
                return
            self.audit.append(
                "enhancement",
                "module_error",
                {
                    "module": module,
                    "kind": kind,
                    "fatal": fatal,
                    "error": what,
                    "strategy": str(getattr(signal, "strategy", "")),
                    "symbol": str(getattr(signal, "symbol", "")),
                    "side": str(getattr(signal, "side", "")),
                    "suppressed_before": suppressed,
                    "window_minutes": self.throttle.window_minutes,
                },
                severity="error",
            )
        except Exception:
            pass

    def _report_suppressed(self, *, everything: bool) -> None:
        """A row for the failures the throttle folded away once their window passed (all of them at close)."""
        try:
            for module, kind, count in self.throttle.due(everything=everything):
                if self.audit is not None:
                    self.audit.append(
                        "enhancement",
                        "module_error_suppressed",
                        {
                            "module": module,
                            "kind": kind,
                            "suppressed": count,
                            "window_minutes": self.throttle.window_minutes,
                        },
                        severity="warning",
                    )
        except Exception:
            pass

    def _gate_failed(self, signal: object, exc: Exception) -> GateDecision:
        """An error in the gate itself: an audited block (fail closed), with a one-line reason."""
        what = one_line(exc)
        self._audit_failure(GATE, type(exc).__name__, True, what, signal)
        verdict = Verdict(GATE, False, f"gate error ({what}): trade blocked (fail closed)", {"error": what}, 0.0)
        return GateDecision(False, f"{GATE}: {verdict.reason}", (verdict,))

    def _finish(self, signal: Signal, verdicts: tuple[Verdict, ...], blocker: Verdict | None) -> GateDecision:
        recordable = isinstance(signal, Signal) and isinstance(signal.ts, datetime) and signal.ts.tzinfo is not None
        if self.tracker.enabled and recordable:
            failed = self._observe(signal, blocker)
            if failed is not None:
                verdicts, blocker = (*verdicts, failed), failed
        reason = f"allowed by {len(verdicts)} check(s)" if blocker is None else f"{blocker.module}: {blocker.reason}"
        if self.log is not None and recordable:  # a log row needs a Signal with a UTC time
            self.log.add(signal, verdicts)
        return GateDecision(blocker is None, reason, verdicts)

    def order_sent(self, signal: Signal) -> None:
        """The broker took an order for ``signal``: an entry uses up its ticker for the session.  Never raises.

        Exits never use a ticker.  The order is out whatever happens here, so the
        ticker stays used in memory even if ``run/session.json`` cannot be saved;
        that failure is audited (``module_error``, kind ``save_failed``) and the
        blocklist then blocks every entry until a save succeeds (a restart could
        not remember the ticker: fail closed, see ``TickerBlocklist.mark``).
        """
        if not isinstance(signal, Signal) or signal.side == EXIT_SIDE:
            return
        try:
            self.blocklist.mark(signal)
        except Exception as exc:
            self._stats[self.blocklist.name].errored = True
            self._module_failed(
                self.blocklist,
                signal,
                Outcome(False, f"cannot save run/session.json: {one_line(exc)}", {}, "save_failed"),
            )

    def _observe(self, signal: Signal, blocker: Verdict | None) -> Verdict | None:
        """Count the decision for tuning; a tracker failure is audited and blocks only if TUNING_TRACKER_FATAL."""
        try:
            self.tracker.observe(signal.strategy, blocker is None, blocker.module if blocker else None)
        except Exception as exc:
            self._stats[self.tracker.name].errored = True
            outcome = self._module_failed(self.tracker, signal, Outcome(False, one_line(exc), {}, type(exc).__name__))
            if not outcome.allow and blocker is None:
                return Verdict(self.tracker.name, False, outcome.reason, outcome.context, 0.0)
        return None

    def record_trade(self, strategy: str, pnl: Decimal, duration_s: float) -> None:
        """A closed round trip (the engine builds them from the broker's fills), for the tuning summary."""
        if self.tracker.enabled:
            self.tracker.record_trade(strategy, pnl, duration_s)

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
                    avg_duration_s=stats.avg_duration_s,
                    blocks=types.MappingProxyType(dict(stats.blocks)),
                )
                for name, stats in sorted(self.tracker.stats.items())
            }
        )

    def flush(self) -> None:
        """Write buffered verdicts and the tuning summary (call periodically and at shutdown)."""
        self._report_suppressed(everything=False)
        if self.log is not None:
            self.log.flush()
        self.tracker.flush()

    def close(self) -> None:
        """``flush``, and report every failure the throttle has folded away so far."""
        self._report_suppressed(everything=True)
        self.flush()

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


def one_line(exc: BaseException) -> str:
    """``Type: message`` on one line, scrubbed of secrets, at most 300 characters."""
    return scrub(f"{type(exc).__name__}: {' '.join(str(exc).split())}")[:300]


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
