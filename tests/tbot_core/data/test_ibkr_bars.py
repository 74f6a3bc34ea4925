"""``IbkrFeed`` minute bars and VIX over ``reqHistoricalData`` from the local TWS-protocol gateway."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tbot_core.brokers.ibkr_session import IbkrEndpoint
from tbot_core.data.ibkr import IbkrFeed
from tests.fakes import ib_wire
from tests.fakes.ib_gateway import ACCOUNT, IbGateway

START = datetime(2026, 1, 6, 14, 30, tzinfo=UTC)
MINUTE = timedelta(minutes=1)


@pytest.fixture
def gw() -> Iterator[IbGateway]:
    with IbGateway() as gateway:
        gateway.add_bars("AAPL", START, 30, price="187.25", step=MINUTE)
        gateway.add_bars("SPY", START, 30, price="512.10", step=MINUTE)
        gateway.add_bars("VIX", START, 30, price="17.5", step=MINUTE)
        yield gateway


def _feed(gw: IbGateway, **kw: object) -> IbkrFeed:
    endpoint = IbkrEndpoint("127.0.0.1", gw.port, client_id=3, account=ACCOUNT, connect_timeout=10, request_timeout=10)
    return IbkrFeed(endpoint, symbols=("AAPL", "SPY"), **kw)  # type: ignore[arg-type]


def test_a_replay_window_yields_both_symbols_bars_in_time_order_as_utc_bars(gw: IbGateway) -> None:
    feed = _feed(gw, start=START + 5 * MINUTE, end=START + 9 * MINUTE)
    try:
        bars = list(feed.bars())
    finally:
        feed.close()
    assert [(b.ts, b.symbol) for b in bars] == [(START + i * MINUTE, s) for i in range(5, 10) for s in ("AAPL", "SPY")]
    assert all(b.ts.tzinfo is UTC for b in bars) and bars[0].close == 187.25 and bars[1].close == 512.10
    assert gw.count(ib_wire.REQ_HISTORICAL_DATA) == 2  # one request per symbol


def test_vix_is_the_last_index_bar_at_or_before_the_time_and_none_before_any(gw: IbGateway) -> None:
    feed = _feed(gw)
    try:
        assert feed.vix(START + 10 * MINUTE + timedelta(seconds=30)) == 17.5
        assert feed.vix(START - MINUTE) is None
    finally:
        feed.close()
