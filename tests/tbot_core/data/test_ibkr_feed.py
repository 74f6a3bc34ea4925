"""IBKR feed mapping with ib_async's own Ticker/BarData, and a dead gateway as a feed heartbeat failure."""

from __future__ import annotations

import math
import socket
from datetime import UTC, date, datetime, timedelta

import pytest
from ib_async import BarData, Stock, Ticker

from tbot_core.brokers.errors import BrokerUnreachable
from tbot_core.brokers.ibkr_session import IbkrEndpoint
from tbot_core.data.ibkr import IbkrFeed, bar_from_ib, duration_for, imbalance_from_ticker
from tbot_core.errors import BrokerError, ConfigError

T = datetime(2025, 1, 15, 20, 40, tzinfo=UTC)


def _ticker(**ticks: float) -> Ticker:
    """A Ticker as ib_async's wrapper fills it: created empty (all NaN), then updated tick by tick."""
    ticker = Ticker(contract=Stock("SPY", "SMART", "USD"), time=T)
    for name, value in ticks.items():
        setattr(ticker, name, value)
    return ticker


def test_auction_ticks_become_an_imbalance_record() -> None:
    ticker = _ticker(auctionVolume=250000.0, auctionImbalance=40000.0, auctionPrice=512.5, regulatoryImbalance=-38000.0)
    record = imbalance_from_ticker(ticker)
    assert record is not None
    assert (record.symbol, record.ts, record.paired_volume, record.imbalance) == ("SPY", T, 250000.0, 40000.0)
    assert record.auction_price == 512.5 and record.regulatory_imbalance == -38000.0


def test_ticker_without_auction_values_means_no_imbalance_yet() -> None:
    assert imbalance_from_ticker(_ticker()) is None
    partial = _ticker(auctionVolume=1000.0, auctionImbalance=10.0)
    record = imbalance_from_ticker(partial)
    assert record is not None and math.isnan(record.auction_price) and record.regulatory_imbalance is None


def test_intraday_bar_maps_to_a_utc_bar() -> None:
    raw = BarData(date=T, open=1.0, high=2.0, low=0.5, close=1.5, volume=300.0)
    assert bar_from_ib("VIX", raw).close == 1.5 and bar_from_ib("VIX", raw).ts == T


def test_daily_or_naive_bar_dates_are_refused() -> None:
    with pytest.raises(BrokerError, match="expected UTC intraday bar times"):
        bar_from_ib("SPY", BarData(date=date(2025, 1, 15)))
    with pytest.raises(BrokerError):
        bar_from_ib("SPY", BarData(date=datetime(2025, 1, 15, 20, 0)))


def test_duration_string_covers_the_window() -> None:
    assert duration_for(T - timedelta(minutes=30), T) == "1860 S"
    assert duration_for(T - timedelta(days=3), T) == "4 D"


def test_dead_gateway_is_a_feed_heartbeat_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    endpoint = IbkrEndpoint("127.0.0.1", port, 8, "DU123", connect_timeout=0.4, request_timeout=0.4)
    feed = IbkrFeed(endpoint, symbols=("SPY",))
    try:
        with pytest.raises(BrokerUnreachable) as caught:
            feed.vix(T)
    finally:
        feed.close()
    assert caught.value.matrix_key == "feed_down" and "ibkr data connect" in str(caught.value)


def test_feed_without_symbols_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SYMBOLS"):
        IbkrFeed(IbkrEndpoint("127.0.0.1", 1, 8, "DU1", 0.4, 0.4), symbols=())
