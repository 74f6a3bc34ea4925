"""Round trips from fills: per strategy and symbol, exact PnL with fees, flat-crossing fills split at flat."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tbot_core.runtime.round_trips import RoundTrips, TradeFill

T0 = datetime(2026, 1, 5, 14, 30, tzinfo=UTC)


def fill(
    side: str, qty: str, price: str, fee: str = "0", *, strategy: str = "open", symbol: str = "SPY", minute: int = 0
):
    return TradeFill(strategy, symbol, side, Decimal(qty), Decimal(price), Decimal(fee), T0 + timedelta(minutes=minute))


def test_a_buy_then_a_sell_of_the_same_quantity_is_one_trip_with_fees_taken_off():
    book = RoundTrips()
    assert book.add(fill("buy", "10", "100.00", "1.00")) is None
    trip = book.add(fill("sell", "10", "101.50", "1.00", minute=45))
    assert trip is not None
    assert (trip.strategy, trip.symbol, trip.pnl) == ("open", "SPY", Decimal("13.00"))
    assert trip.duration_s == 45 * 60
    assert book.open_positions() == {}


def test_a_partial_exit_completes_no_trip_and_the_last_exit_books_all_of_it():
    book = RoundTrips()
    book.add(fill("buy", "10", "50"))
    assert book.add(fill("sell", "4", "55", "0.50", minute=1)) is None
    assert book.open_positions() == {("open", "SPY"): Decimal(6)}
    trip = book.add(fill("sell", "6", "45", "0.50", minute=2))
    assert trip is not None and trip.pnl == Decimal("-11.00")  # +20 - 30 - 1 in fees


def test_strategies_and_symbols_keep_their_own_positions():
    book = RoundTrips()
    book.add(fill("buy", "5", "10", strategy="open"))
    book.add(fill("buy", "5", "10", strategy="mid"))
    book.add(fill("buy", "5", "10", strategy="mid", symbol="AAPL"))
    trip = book.add(fill("sell", "5", "12", strategy="mid"))
    assert trip is not None and (trip.strategy, trip.symbol, trip.pnl) == ("mid", "SPY", Decimal(10))
    assert book.open_positions() == {("open", "SPY"): Decimal(5), ("mid", "AAPL"): Decimal(5)}


def test_a_fill_crossing_flat_closes_at_flat_with_its_whole_fee_and_opens_the_rest():
    book = RoundTrips()
    book.add(fill("buy", "10", "20"))
    trip = book.add(fill("sell", "15", "22", "3", minute=5))
    assert trip is not None and trip.pnl == Decimal(17)  # 10 * 2 - 3
    assert book.open_positions() == {("open", "SPY"): Decimal(-5)}
    back = book.add(fill("buy", "5", "21", minute=9))
    assert back is not None and back.pnl == Decimal(5) and back.opened == T0 + timedelta(minutes=5)


@pytest.mark.parametrize(
    "bad",
    [fill("hold", "1", "1"), fill("buy", "0", "1"), fill("buy", "1", "0"), fill("sell", "1", "1", "-0.01")],
)
def test_a_malformed_fill_is_refused_and_changes_nothing(bad):
    book = RoundTrips()
    with pytest.raises(ValueError):
        book.add(bad)
    assert book.open_positions() == {}


money = st.decimals(min_value=Decimal("0.01"), max_value=Decimal("999.99"), places=2)


@given(st.lists(st.tuples(st.sampled_from(["open", "mid"]), st.integers(1, 50), money, money), max_size=30))
def test_trips_add_up_to_every_cent_that_moved_once_each_position_is_flat(steps):
    """Buy each lot, then sell it all back: the trips' PnL is exactly the cash that moved, fees included."""
    book, trips, cash = RoundTrips(), [], Decimal(0)
    for n, (strategy, qty, price, fee) in enumerate(steps):
        f = fill("buy", str(qty), str(price), str(fee / 100), strategy=strategy, minute=n)
        cash -= f.qty * f.price + f.fee
        assert book.add(f) is None
    for n, ((strategy, symbol), qty) in enumerate(sorted(book.open_positions().items())):
        f = fill("sell", str(qty), "10.00", "0.25", strategy=strategy, symbol=symbol, minute=100 + n)
        cash += f.qty * f.price - f.fee
        trips.append(book.add(f))
    assert all(trips) and book.open_positions() == {}
    assert sum((t.pnl for t in trips), Decimal(0)) == cash
