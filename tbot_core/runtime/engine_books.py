"""What the engine writes down besides trading: its cursor, verdicts, the gate's logs, the ledger, the tuning figures.

Kept apart from the trading loop (``engine.py``) because none of it decides a
trade: each write here may fail and be retried, and only the cursor is on the
hot path (every ``CURSOR_FLUSH_BARS`` bars).  Engine thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol, runtime_checkable

from tbot_core.core_store import CoreStore
from tbot_core.gate import Gate
from tbot_core.runtime.engine_view import Journal
from tbot_core.runtime.ledger_poster import LedgerPoster
from tbot_core.runtime.portfolio import Portfolio
from tbot_core.runtime.round_trips import FillTracker, RoundTrip
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.signals import Signal
from tbot_core.state_schema import VerdictRow
from tbot_core.strategies.base import BarStrategy, Strategy
from tbot_core.timeutil import UtcTime

# The gate buffers its strategy log and tuning summary; the engine writes them on this beat and at the end.
GATE_FLUSH_SECONDS = 1.0
# A real broker fills orders after we submit them: its activities are read back into the ledger on this beat.
BROKER_LEDGER_SYNC_SECONDS = 30.0


@runtime_checkable
class StreamsFills(Protocol):
    """A broker that hears of fills as they happen (Alpaca's trade updates): True once per batch of news.

    The engine asks before each bar and then reads the fills through
    ``fills_since`` and the account as after any fill, so the books keep one
    source of truth and only learn of it sooner than the periodic sync.
    """

    def fills_waiting(self) -> bool: ...


class Books:
    """Mixin for ``Engine``."""

    def _after_fills(self) -> None:
        self.portfolio.refresh()
        self._tell_holdings()
        self.publish()  # the account was read: publish its cash and positions now, not at the end of the bar
        self._flush_cursor(force=True)
        self.ledger.post_pending()
        self._track_fills()

    def _tell_holdings(self) -> None:
        """After an account read: each strategy learns the symbols it holds, so its exits sell only those.

        The broker's positions with the strategy that opened each one are the
        truth (a restarted core's strategies exit what an earlier run bought);
        a strategy that is not a ``Strategy`` (a test's scripted one) is not told.
        """
        owned: dict[str, set[str]] = {}
        for symbol, (qty, _avg, owner) in self.portfolio.positions.items():
            if qty > 0:
                owned.setdefault(owner, set()).add(symbol)
        for strategy in self.strategies:
            if isinstance(strategy, Strategy):
                strategy.holdings_told(owned.get(strategy.name, ()))

    def _track_fills(self) -> None:
        """The tuning figures follow the broker's fills; reading them never stops trading."""
        try:
            self.fills.poll()
        except Exception as exc:
            self.errors.record(exc, context={"where": "reading fills for the tuning figures"})

    def _trip_closed(self, trip: RoundTrip) -> None:
        self.gate.record_trade(trip.strategy, trip.pnl, trip.duration_s)
        self._gate_dirty = True

    def _flush_cursor(self, force: bool = False) -> None:
        if not self._ts_text or (not force and not self._unflushed):
            return
        with self.store.transaction() as conn:
            self.store.save_cursor(conn, self._ts_text, self.bars, dict(self.portfolio.marks))
        self._unflushed = 0
        self._last_flush = self._clock()
        if self._last_flush - self._last_gate_flush >= GATE_FLUSH_SECONDS:
            self._flush_gate()
        if not self._paper and self._last_flush - self._last_ledger_sync >= BROKER_LEDGER_SYNC_SECONDS:
            self._last_ledger_sync = self._last_flush
            self.ledger.post_pending()
            self._track_fills()

    def _flush_gate(self) -> None:
        """Write the gate's buffered strategy log; a failure there is logged, never stops trading."""
        self._last_gate_flush = self._clock()
        try:
            self.gate.flush()
        except Exception as exc:
            self.errors.record(exc, context={"where": "strategy log flush"})

    def _verdict(self, signal: Signal, module: str, allow: bool, reason: str) -> None:
        self.journal.verdict(
            VerdictRow(
                ts_utc=self._ts_text,
                strategy=signal.strategy,
                symbol=signal.symbol,
                side=signal.side,
                module=module,
                allow=allow,
                reason=reason,
                latency_us=0,
            )
        )

    # provided by Engine
    _clock: Callable[[], float]
    _ts_text: UtcTime
    _gate_dirty: bool
    _loud: bool
    _paper: bool
    _unflushed: int
    _last_flush: float
    _last_gate_flush: float
    _last_ledger_sync: float
    bars: int
    errors: ErrorHandler
    fills: FillTracker
    journal: Journal
    gate: Gate
    ledger: LedgerPoster
    portfolio: Portfolio
    store: CoreStore
    strategies: list[BarStrategy]
    publish: Callable[[], None]
