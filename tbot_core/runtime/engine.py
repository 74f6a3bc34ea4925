"""The engine loop: feed -> strategies -> gate -> risk -> kill switch -> broker -> ledger -> PnL.

Runs on its own thread under the supervisor.  Per bar it marks prices,
computes daily PnL in integer cents (equity now minus equity at the first bar
of the UTC day) and lets the kill switch judge it, then runs the strategies
and pushes each signal through the gate, the risk bot and the kill switch
before the broker sees it.  Client order ids are derived from the signal, so a
bar processed twice (after a crash) never trades twice.  A bar that raises is
retried with backoff; if it keeps failing, the error handler escalates with a
``stop`` flag and the loop ends — the supervisor decides what happens next.

Waiting (for the broker at start, between retries) is in ``engine_waits.py``;
what the engine publishes for other threads is in ``engine_view.py``; broker vs books in ``engine_reconcile.py``.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from decimal import Decimal

from tbot_core.bars import Bar
from tbot_core.brokers.base import Broker, OrderRequest
from tbot_core.context import CoreContext
from tbot_core.core_store import CoreStore
from tbot_core.data.base import Feed
from tbot_core.data.market import market_data_of
from tbot_core.gate import Gate
from tbot_core.money import from_cents, quote_cents, to_cents
from tbot_core.runtime.engine_books import Books, StreamsFills
from tbot_core.runtime.engine_reconcile import Reconciles
from tbot_core.runtime.engine_view import EngineState, EngineView, Journal, build_view, verdict_row
from tbot_core.runtime.engine_waits import Waits
from tbot_core.runtime.ledger_poster import LedgerPoster
from tbot_core.runtime.portfolio import Portfolio
from tbot_core.runtime.reconcile import MismatchGuard
from tbot_core.runtime.round_trips import FillTracker
from tbot_core.safety.error_handler import ErrorHandler, classify
from tbot_core.safety.escalation import Action
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.sanitize import scrub
from tbot_core.signals import Signal
from tbot_core.state_schema import Order, PnlPoint
from tbot_core.strategies.base import BarStrategy
from tbot_core.timeutil import UtcTime, iso_z

CURSOR_FLUSH_BARS = 500
CURSOR_FLUSH_SECONDS = 0.5
# A new PnL point with nothing else changed is published at most this often (see _publish_if_changed).
QUIET_PUBLISH_SECONDS = 1.0


class EscalatedStop(Exception):
    """The error policy escalated to a supervised stop: stop processing bars, the supervisor takes over."""


@dataclass
class EngineControl:
    """Switches the supervisor flips while the engine runs."""

    stop: threading.Event = field(default_factory=threading.Event)
    suspended: bool = False
    defense: bool = False
    reconcile_due: bool = False  # the broker resumed: compare it with the books before the next bar
    mismatch: MismatchGuard = field(default_factory=MismatchGuard)


class Engine(Waits, Books, Reconciles):
    def __init__(
        self,
        ctx: CoreContext,
        *,
        store: CoreStore,
        broker: Broker,
        feed: Feed,
        strategies: list[BarStrategy],
        gate: Gate,
        risk: RiskBot,
        kill_switch: KillSwitch,
        errors: ErrorHandler,
        control: EngineControl,
        on_broker_down: Callable[[str], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.ctx = ctx
        self._clock = clock  # decisions on elapsed time read this; the fault simulator passes its sim clock
        self.store, self.broker, self.feed = store, broker, feed
        self.strategies, self.gate, self.risk = strategies, gate, risk
        self.kill, self.errors, self.control = kill_switch, errors, control
        self.on_broker_down = on_broker_down
        # Liveness, read by the supervisor: ``busy_since`` is set while a bar or a wait is in hand (None while
        # the engine waits on its feed, which the watchdog's feed heartbeat covers); ``beat`` moves on progress.
        self.beat = clock()
        self.busy_since: float | None = None
        self.ledger = LedgerPoster(ctx, store, broker)
        self.portfolio = Portfolio(broker)
        self.fills = FillTracker(broker, self._trip_closed)  # round trips from real fills -> the tuning figures
        self.journal = Journal(ctx.settings.state_verdicts_kept, ctx.settings.engine_orders_kept)
        self.bars = store.cursor()[1]
        self.flat_sells = 0
        self.state = EngineState.STARTING
        # What other threads may read: replaced whole by ``publish`` (see engine_view.py), never mutated.
        self.view = EngineView(bars=self.bars)
        self._gate_dirty = True
        self._loud = True  # a signal or a new day this bar: compare the view's loud parts (a fill publishes at once)
        self._published_at = clock()
        self._day = ""
        self.sod_cents: int | None = None
        self.day_limit_cents: int | None = None
        # Work that depends only on the bar's time (text form, VIX, UTC day, PnL-history minute) is
        # done once per timestamp: the feed's bars of one minute share one datetime object.
        self._ts_obj: object = None
        self._ts_text = UtcTime("")  # iso_z of the current bar's time ("" before the first bar)
        self._vix: float | None = None
        self._pnl_minute_due = False
        self._point_cents, self._point_money = 0, from_cents(0)  # the last PnL point's amount, both forms
        self._broker_on_bar = broker.on_bar if broker.simulated else None
        self._fill_events = broker.fills_waiting if isinstance(broker, StreamsFills) else None
        self._last_flush = self._last_gate_flush = self._last_ledger_sync = clock()
        self._paper = broker.simulated
        self._unflushed = 0

    # -- loop ------------------------------------------------------------------------------------
    def run(self) -> None:
        if not self._connect():
            self.end(EngineState.STOPPED)
            return
        self.state = EngineState.RUNNING
        if self._fill_events is not None:
            self._fill_events()  # listen for trade updates before the first order can go out
        self._track_fills()  # a restarted core rebuilds its round trips before the first bar
        self.publish()
        self.ledger.post_pending()
        self._reconcile("engine start")  # after posting: a fill the ledger had not booked yet is no mismatch
        ended = EngineState.CRASHED  # unless the loop says otherwise
        control, stop = self.control, self.control.stop  # looked up once: the loop below runs per bar
        try:
            for bar in self.feed.bars():
                if stop.is_set():
                    ended = EngineState.STOPPED
                    break
                if control.reconcile_due:
                    self._reconcile("broker resumed")
                if not self._process_with_retry(bar):
                    ended = EngineState.ESCALATED
                    break
            else:
                ended = EngineState.STOPPED if stop.is_set() else EngineState.FEED_ENDED
        except Exception as exc:
            self.errors.handle(exc, where="feed", context={"bar_utc": self._ts_text})
            ended = EngineState.ESCALATED
        finally:
            self._flush_cursor(force=True)
            self._flush_gate()
            if not self._paper:
                self.ledger.post_pending()
        self.end(ended)

    def end(self, state: EngineState) -> None:
        """The engine's last word: how it ended, published before its thread exits."""
        self.state = state
        self.publish()

    def publish(self) -> None:
        """Swap in a new frozen view of what other threads may read (one reference assignment)."""
        if self._gate_dirty:
            self._gate_dirty = False
            self._gate_view = (self.gate.enhancement_status(), self.gate.tuning_view())
        self.view = build_view(self, self._ts_text, *self._gate_view)
        self._published_at = self._clock()

    def _process_with_retry(self, bar: Bar) -> bool:
        attempt = 0
        self.busy_since = self.beat = self._clock()
        try:
            while True:
                try:
                    self.process_bar(bar)
                    return True
                except EscalatedStop:
                    return False
                except Exception as exc:
                    last = attempt >= self.ctx.settings.api_retry_limit or self.control.stop.is_set()
                    context = {"bar_utc": self._ts_text, "symbol": bar.symbol, "attempt": attempt}
                    action = self.errors.handle(exc, where="bar", exhausted=last, context=context)
                    if action is not Action.RETRY:
                        return not action.stops_engine  # log / suspend: skip this bar and go on
                    attempt += 1
                    cut = self._wait(self.errors.backoff(attempt))
                    if cut == "halted":
                        self.errors.escalate(
                            "stop",
                            "logic_error",
                            f"{classify(exc)} on bar {self._ts_text} "
                            f"{bar.symbol}; kill switch halted during the retry wait",
                        )
                    if cut:
                        return False
        finally:
            self.busy_since = None
            self.beat = self._clock()

    def process_bar(self, bar: Bar) -> None:
        if bar.ts is not self._ts_obj:
            self._new_timestamp(bar)
        if self._fill_events is not None and self._fill_events():  # a streamed trade update: read the fills now
            self._after_fills()
        close_cents = quote_cents(bar.close)
        on_bar = self._broker_on_bar
        if on_bar is not None and not self.control.suspended:
            if on_bar(bar, close_cents, self._ts_text):
                self._after_fills()
        self.portfolio.marks[bar.symbol] = close_cents
        self._check_pnl()
        vix = self._vix
        for strategy in self.strategies:
            for signal in strategy.on_bar(bar, vix):
                self._handle_signal(signal)
        self.bars += 1
        self._unflushed += 1
        if self._unflushed >= CURSOR_FLUSH_BARS or self._clock() - self._last_flush > CURSOR_FLUSH_SECONDS:
            self._flush_cursor()
        self._publish_if_changed(bar.symbol)

    def _publish_if_changed(self, marked: str) -> None:
        """After a bar: publish at once what others act on (orders, verdicts, cash, the day's limit, the gate);
        what only moves with prices (a held symbol's mark, a new PnL point) at most every
        ``QUIET_PUBLISH_SECONDS``: state.json is written about that often, and a fast replay then does not build
        a view per bar.  The kill switch reads the engine's own numbers on every bar, never this view.
        """
        # Runs on every bar, no tuples built.  Orders, verdicts, cash and the day's start change only on a bar
        # that handled a signal or began a day (``_loud``; a fill publishes at once): only then are they compared.
        v, j, p = self.view, self.journal, self.portfolio
        if self._gate_dirty or (
            self._loud
            and (
                j.verdicts is not v.verdicts
                or j.orders is not v.orders
                or p.cash_cents != v.cash_cents
                or self.sod_cents != v.sod_cents
                or self.day_limit_cents != v.day_limit_cents
            )
        ):
            self.publish()
        elif (marked in p.positions or j.history is not v.pnl_history) and (
            self._clock() - self._published_at >= QUIET_PUBLISH_SECONDS
        ):
            self.publish()
        self._loud = False

    def _new_timestamp(self, bar: Bar) -> None:
        # The market context is the data layer's (``MarketData``, bundled with the feed by build_parts); a
        # bare feed (a test's, a bench's) gets its own VIX only.  A failed VIX source does not raise here: it
        # reaches vix_gatekeeper as a failed source, and VIX_GATEKEEPER_FATAL decides.
        if self._ts_obj is None:
            self._market = market_data_of(self.feed)
        text, vix = iso_z(bar.ts), self._market.at(bar.ts)
        if self._ts_text[:16] != text[:16]:
            self._pnl_minute_due = True
        self._ts_obj, self._ts_text, self._vix = bar.ts, text, vix

    # -- PnL and the kill switch ------------------------------------------------------------------
    def _check_pnl(self) -> None:
        """Every bar: PnL from the latest marks, judged by the kill switch (no bar is skipped)."""
        equity, problem = self.portfolio.equity_cents()
        day = self._ts_text[:10]
        if day != self._day:
            self._start_day(day, equity)
        pnl = None if equity is None or self.sod_cents is None else equity - self.sod_cents
        if pnl is None and not problem:
            problem = "no start-of-day equity"
        self.kill.evaluate(pnl, self.day_limit_cents, self._ts_text, problem)
        if pnl is not None and self._pnl_minute_due:
            self._pnl_minute_due = False
            if pnl != self._point_cents:  # a flat book's PnL repeats minute after minute: convert it once
                self._point_cents, self._point_money = pnl, from_cents(pnl)
            self.journal.pnl(PnlPoint(t=self._ts_text, pnl=self._point_money))

    def _start_day(self, day: str, equity: int | None) -> None:
        self._day, self._loud = day, True  # the day's start is published at the end of this bar
        stored = self.store.day_start_equity(day)
        if stored is None and equity is not None:
            self.store.set_day_start_equity(day, from_cents(equity))
            stored = self.store.day_start_equity(day)
        self.sod_cents = None if stored is None else to_cents(stored)
        self.day_limit_cents = None if self.sod_cents is None else self.kill.limit_cents(self.sod_cents)

    # -- one signal through gate -> risk -> kill switch -> broker ----------------------------------
    def _handle_signal(self, signal: Signal) -> None:
        self._loud = True
        held = self.portfolio.positions.get(signal.symbol)
        owner = None if held is None else held[2]
        if signal.side == "sell" and owner != signal.strategy:
            # Long only, and a position is closed only by the strategy that opened it: nothing of this one's to close.
            self.flat_sells += 1
            return
        if owner is not None and owner != signal.strategy:
            self._verdict(signal, "engine", False, f"{signal.symbol} is held by {owner or 'an unknown owner'}")
            return
        if signal.side == "buy" and self.control.mismatch.blocking:  # a new entry on a wrong picture: no
            self._verdict(signal, "engine", False, self.control.mismatch.reason)
            return
        decision = self.gate.decide(signal, self._market.context(signal))
        self._gate_dirty = True
        self.journal.verdict(*(verdict_row(verdict.to_record(signal)) for verdict in decision.verdicts))
        if not decision.allow:
            if not decision.verdicts:
                self._verdict(signal, "gate", False, decision.reason)
            return
        if self.kill.triggered:
            self._verdict(signal, "kill_switch", False, f"halted: {self.kill.state().cause}")
            return
        if self.control.suspended:
            self._verdict(signal, "watchdog_bot", False, "broker suspended: no orders until it answers again")
            return
        if self.control.stop.is_set():  # asked to stop (e.g. stalled, this bar came back late): no new orders
            self._verdict(signal, "supervisor", False, "engine stopping: no new orders")
            return
        risk = self.risk.check(
            strategy=signal.strategy,
            symbol=signal.symbol,
            side=signal.side,
            price=signal.price,
            equity=self.portfolio.equity(),
            holdings=self.portfolio.holdings(),
            defense=self.control.defense,
        )
        self._verdict(signal, "risk_bot", risk.allow, risk.reason)
        if not risk.allow:
            self.ctx.matrix.trigger(
                "validation_fail", f"{signal.strategy} {signal.side} {signal.symbol}: {risk.reason}"
            )
            self.ctx.audit.append(
                "risk",
                "trade_blocked",
                {
                    "strategy": signal.strategy,
                    "symbol": signal.symbol,
                    "side": signal.side,
                    "reason": risk.reason,
                    "bar_utc": self._ts_text,
                },
            )
            return
        self._submit(signal, risk.qty)

    def _submit(self, signal: Signal, qty: int) -> None:
        client_id = f"{signal.strategy}-{signal.symbol}-{signal.side}-{self._ts_text}"
        request = OrderRequest(client_id, signal.symbol, signal.side, Decimal(qty), signal.strategy)
        # An exit, or any order while the symbol is held, is open risk: the policy is stricter there.
        exposed = signal.side == "sell" or signal.symbol in self.portfolio.positions
        where = "order_submit_exposed" if exposed else "order_submit"
        try:
            order = self.errors.retry(
                lambda: self.broker.submit_order(request),
                what=f"submit {client_id}",
                where=where,
                strategy=signal.strategy,
                context={"symbol": signal.symbol},
                wait=self._retry_wait,
                should_abort=lambda: self.control.stop.is_set() or self.kill.triggered,
            )
        except Exception as exc:
            action = self.errors.handle(
                exc,
                where=where,
                strategy=signal.strategy,
                order=True,
                context={"client_order_id": client_id, "symbol": signal.symbol, "side": signal.side, "qty": qty},
            )
            if action is Action.KILL_SWITCH:  # halt here and now; the kill flag the handler wrote is then a no-op
                # The cause is persisted in core.db as it is: scrubbed here, a broker's echoed secret never lands there.
                self.kill.trigger(
                    f"{where}: {classify(exc)} on {signal.side} {signal.symbol} after retries: {scrub(str(exc))}",
                    bar_utc=self._ts_text,
                )
            elif action.stops_engine:
                raise EscalatedStop(str(exc)) from None
            return
        if order.status not in ("rejected", "canceled"):  # answered but not taken: uses no ticker
            # Sent: only now is the ticker used for the session (a refused order leaves it to another strategy).
            self.gate.order_sent(signal)
            self._gate_dirty = True
        self.journal.order(
            Order(
                order_id=order.order_id,
                symbol=order.symbol,
                side=order.side,
                qty=Decimal(order.qty),
                status=order.status,
                submitted_utc=iso_z(order.submitted_utc),
                strategy=order.strategy,
                bar_utc=self._ts_text,
            )
        )
        if order.status in {"filled", "partially_filled"}:
            self._after_fills()
