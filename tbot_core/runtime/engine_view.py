"""What the engine publishes for other threads: one frozen ``EngineView``, replaced whole.

The engine thread owns its portfolio, marks, orders and verdicts and mutates
them on every bar; the supervisor builds ``state.json`` on its own thread.  So
the engine copies what others may see into an immutable view after every bar
that changed it (a held symbol's mark, an order, a verdict, a PnL point, the
day's start), when it connects, after a fill and when it ends, and publishes
it with one reference assignment — a reader gets the previous view or the
next, never half of one, and never touches the engine's parts.  A bar of a
symbol not held changes nothing shown, so a fast replay does not pay for a
view per bar.  Amounts stay integer cents here; ``snapshot.py`` formats them
as decimal strings.
"""

from __future__ import annotations

import types
from collections import deque
from collections.abc import Mapping
from dataclasses import field
from enum import StrEnum
from typing import Any

from tbot_core.state_codec import freeze
from tbot_core.state_schema import EnhancementRow, Order, PnlPoint, TuningStats, VerdictRow, view


class EngineState(StrEnum):
    """The engine's life, after NautilusTrader's ``ComponentState``: two live states, then one way it ended."""

    STARTING = "starting"  # built; reading the account (and waiting there while the broker is down)
    RUNNING = "running"  # processing bars
    STOPPED = "stopped"  # asked to stop
    FEED_ENDED = "feed_ended"  # the replay ran out: the core stays up
    ESCALATED = "escalated"  # the error policy asked the supervisor to take over
    CRASHED = "crashed"  # an exception escaped the loop

    @property
    def finished(self) -> bool:
        return self not in (EngineState.STARTING, EngineState.RUNNING)


@view
class PositionView:
    symbol: str
    qty: int
    avg_cents: int
    mark_cents: int | None  # None until a price for it is known (equity is then unknown too)
    strategy: str


EMPTY_TUNING: Mapping[str, TuningStats] = types.MappingProxyType({})


@view
class EngineView:
    state: EngineState = EngineState.STARTING
    bars: int = 0  # bars processed and the latest bar's time when this view was taken (not every bar makes one)
    bar_utc: str = ""
    account_read: bool = False  # False until the broker answered once: no account to show or judge
    cash_cents: int = 0
    equity_cents: int | None = None
    sod_cents: int | None = None
    day_limit_cents: int | None = None
    positions: tuple[PositionView, ...] = ()
    pnl_history: tuple[PnlPoint, ...] = ()
    orders: tuple[Order, ...] = ()
    verdicts: tuple[VerdictRow, ...] = ()
    enhancements: tuple[EnhancementRow, ...] = ()
    tuning: Mapping[str, TuningStats] = field(default_factory=lambda: EMPTY_TUNING)


class Journal:
    """The engine's recent orders, verdicts and PnL points (engine thread only), as tuples on demand.

    A tuple is rebuilt only when its deque changed, so a view reuses the
    previous one's tuples, and the engine tells a change by identity.
    """

    def __init__(self, verdicts_kept: int, orders_kept: int, history_kept: int = 120) -> None:
        self._verdicts: deque[VerdictRow] = deque(maxlen=verdicts_kept)
        self._orders: deque[Order] = deque(maxlen=orders_kept)
        self._history: deque[PnlPoint] = deque(maxlen=history_kept)
        self.verdicts: tuple[VerdictRow, ...] = ()
        self.orders: tuple[Order, ...] = ()
        self.history: tuple[PnlPoint, ...] = ()

    def verdict(self, *rows: VerdictRow) -> None:
        """Rows in the order they were decided; the newest ends up first."""
        self._verdicts.extendleft(rows)
        self.verdicts = tuple(self._verdicts)

    def order(self, row: Order) -> None:
        self._orders.appendleft(row)
        self.orders = tuple(self._orders)

    def pnl(self, point: PnlPoint) -> None:
        self._history.append(point)
        self.history = tuple(self._history)


def build_view(
    engine: Any, bar_utc: str, enhancements: tuple[EnhancementRow, ...], tuning: Mapping[str, TuningStats]
) -> EngineView:
    """The engine's current picture; called on the engine thread only (it reads the live portfolio)."""
    p = engine.portfolio
    equity, _ = p.equity_cents()
    j = engine.journal
    return EngineView(
        state=engine.state,
        bars=engine.bars,
        bar_utc=bar_utc,
        account_read=p.refreshed,
        cash_cents=p.cash_cents,
        equity_cents=equity,
        sod_cents=engine.sod_cents,
        day_limit_cents=engine.day_limit_cents,
        positions=tuple(
            PositionView(symbol=sym, qty=qty, avg_cents=avg, mark_cents=p.marks.get(sym), strategy=strategy)
            for sym, (qty, avg, strategy) in sorted(p.positions.items())
        ),
        pnl_history=j.history,
        orders=j.orders,
        verdicts=j.verdicts,
        enhancements=enhancements,
        tuning=tuning,
    )


def verdict_row(record: dict[str, Any]) -> VerdictRow:
    """A gate verdict's record (``Verdict.to_record``) as a frozen row: its context deep-frozen too."""
    return VerdictRow(**{**record, "context": freeze(record.get("context"))})
