"""Round trips per strategy, built from the broker's fills, for the tuning tracker.

A strategy is tuned on what its trades really made, so the figures come from
fills (price, quantity and fee as the broker booked them), never from signals.
Each strategy's position in each symbol is kept apart: a round trip starts
when that position leaves flat and ends when it is flat again; its PnL is the
cash it took in minus the cash it paid out, fees included.  A fill that
crosses flat (sell more than is held) closes the trip at flat and opens the
next one with the rest; its whole fee is charged to the trip it closes, so no
cent is split or rounded.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tbot_core.brokers.base import Broker
from tbot_core.timeutil import utc_now

ZERO = Decimal(0)
UNATTRIBUTED = "unattributed"  # a fill no order of this bot placed (placed by hand at the broker)
# A real broker's fills are read from this far back at start; a paper account's from its first fill.
BROKER_FILL_LOOKBACK = timedelta(days=3)


@dataclass(frozen=True)
class TradeFill:
    """One fill as the tuning figures need it (a paper fill in core.db, or a broker's execution)."""

    strategy: str
    symbol: str
    side: str  # "buy" | "sell"
    qty: Decimal
    price: Decimal
    fee: Decimal
    when: datetime


@dataclass(frozen=True)
class RoundTrip:
    strategy: str
    symbol: str
    opened: datetime
    closed: datetime
    pnl: Decimal  # cash in - cash out - fees, exact

    @property
    def duration_s(self) -> float:
        return (self.closed - self.opened).total_seconds()


@dataclass
class _Open:
    qty: Decimal  # signed: long > 0
    cash: Decimal  # cash in - cash out so far, fees included
    opened: datetime


class RoundTrips:
    """Open positions per (strategy, symbol); ``add`` returns the round trip a fill completes, if any."""

    def __init__(self) -> None:
        self._open: dict[tuple[str, str], _Open] = {}

    def add(self, fill: TradeFill) -> RoundTrip | None:
        if fill.side not in ("buy", "sell"):
            raise ValueError(f"fill side {fill.side!r}: expected buy or sell")
        if fill.qty <= 0 or fill.price <= 0 or fill.fee < 0:
            raise ValueError(f"fill {fill.symbol}: expected qty > 0, price > 0 and fee >= 0")
        key = (fill.strategy, fill.symbol)
        signed = fill.qty if fill.side == "buy" else -fill.qty
        held = self._open.get(key)
        if held is None:
            self._open[key] = _Open(signed, -signed * fill.price - fill.fee, fill.when)
            return None
        after = held.qty + signed
        if after == 0 or (after > 0) == (held.qty > 0):  # still on the same side of flat, or exactly flat
            held.qty = after
            held.cash += -signed * fill.price - fill.fee
            if after:
                return None
            del self._open[key]
            return RoundTrip(fill.strategy, fill.symbol, held.opened, fill.when, held.cash)
        # Crossed flat: the part up to flat closes this trip (with the whole fee), the rest opens the next.
        closing = -held.qty
        trip = RoundTrip(
            fill.strategy, fill.symbol, held.opened, fill.when, held.cash - closing * fill.price - fill.fee
        )
        self._open[key] = _Open(after, -after * fill.price, fill.when)
        return trip

    def open_positions(self) -> dict[tuple[str, str], Decimal]:
        """Signed quantity held per (strategy, symbol): what each strategy's exits may close."""
        return {key: held.qty for key, held in self._open.items()}


class FillTracker:
    """Reads the broker's fills once each and turns them into round trips for ``on_trip``.

    A paper account is read from its first fill, so a restarted core rebuilds
    the same figures; a real broker from ``BROKER_FILL_LOOKBACK`` back (a trip
    opened before that shows from its first fill seen).  ``fills_since`` answers
    fills at or after a time, so the fills at the newest time already read are
    remembered by id and skipped.
    """

    def __init__(self, broker: Broker, on_trip: Callable[[RoundTrip], None]) -> None:
        self.broker, self.on_trip = broker, on_trip
        self.trips = RoundTrips()
        self._since: datetime | None = None if broker.simulated else utc_now() - BROKER_FILL_LOOKBACK
        self._at_since: set[str] = set()

    def poll(self) -> int:
        """Read new fills; returns how many round trips they completed.  Raises what the broker raises."""
        done = 0
        for fill in self.broker.fills_since(self._since):
            if fill.fitid in self._at_since:
                continue
            if self._since is None or fill.timestamp_utc > self._since:
                self._since, self._at_since = fill.timestamp_utc, set()
            self._at_since.add(fill.fitid)
            strategy = fill.strategy or UNATTRIBUTED
            trip = self.trips.add(
                TradeFill(strategy, fill.symbol, fill.side, fill.qty, fill.price, fill.fee, fill.timestamp_utc)
            )
            if trip is not None:
                done += 1
                self.on_trip(trip)
        return done
