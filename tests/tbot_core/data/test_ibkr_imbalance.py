"""The IBKR auction imbalance feed: generic tick 225 inside the close window, to the gate's ``Imbalance``.

Everything runs against the local TWS-protocol gateway: the feed subscribes with
``reqMktData(..., "225")``, the gateway streams auction volume/price/imbalance
ticks (34/35/36) and the regulatory imbalance (61), and ``build_market_data``
carries the report to ``imbalance_scanner_ibkr`` in the ``MarketContext``.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import TypeVar

import pytest

from tbot_core.audit import AuditLog
from tbot_core.brokers.ibkr_session import IbkrEndpoint
from tbot_core.config import Settings
from tbot_core.data.ibkr import AuctionImbalance, IbkrFeed, IbkrImbalanceSource
from tbot_core.data.market import MarketData, build_market_data
from tbot_core.gate import Gate
from tbot_core.paths import HomePaths
from tbot_core.signals import Imbalance
from tests.fakes import ib_wire
from tests.fakes.ib_gateway import ACCOUNT, IbGateway
from tests.tbot_core.enhancements.helpers import IDENTITY, signal

T = TypeVar("T")
SYMBOLS = ("AAPL", "SPY")
WINTER_IN = datetime(2026, 1, 6, 20, 45, tzinfo=UTC)  # inside the seed's 20:30-21:00 UTC (close 21:00 UTC)
WINTER_BEFORE = datetime(2026, 1, 6, 20, 15, tzinfo=UTC)
SUMMER_IN = datetime(2026, 7, 7, 19, 45, tzinfo=UTC)  # EDT: the close is 20:00 UTC, the window 19:30-20:00
SUMMER_AFTER = datetime(2026, 7, 7, 20, 15, tzinfo=UTC)  # 20:15 UTC is inside in winter, after the close in summer


@pytest.fixture
def gw() -> Iterator[IbGateway]:
    with IbGateway() as gateway:
        yield gateway


@pytest.fixture
def feed(gw: IbGateway) -> Iterator[IbkrFeed]:
    endpoint = IbkrEndpoint("127.0.0.1", gw.port, client_id=2, account=ACCOUNT, connect_timeout=10, request_timeout=2)
    live = IbkrFeed(endpoint, symbols=SYMBOLS)
    yield live
    live.close()


def _eventually(read: Callable[[], T], good: Callable[[T], bool], bound: float = 20.0) -> T:
    """Read until ``good``: a streamed update lands a moment after the gateway sends it (bound: liveness only)."""
    deadline = time.monotonic() + bound
    while True:
        value = read()
        if good(value):
            return value
        assert time.monotonic() < deadline, f"never got it, last {value!r}"
        time.sleep(0.01)


def _settings(**values: str) -> Settings:
    return Settings().with_values({"BROKER": "ibkr", "SYMBOLS": ",".join(SYMBOLS), **values})


def test_the_feed_subscribes_generic_tick_225_and_reads_side_and_size(gw: IbGateway, feed: IbkrFeed) -> None:
    gw.set_imbalance("AAPL", paired=200_000, imbalance=-50_000, price="187.30", regulatory=-40_000)
    report = feed.imbalance("AAPL")
    assert report is not None and gw.subscriptions("AAPL") == [("AAPL", frozenset({"225"}))]
    assert (report.paired_volume, report.imbalance, report.auction_price, report.regulatory_imbalance) == (
        200_000,
        -50_000,
        187.30,
        -40_000,
    )
    assert report.side == "sell" and report.ts.tzinfo is not None
    assert report.to_signal() == Imbalance(ts=report.ts, side="sell", shares=50_000, paired=200_000)

    gw.set_imbalance("AAPL", paired=200_000, imbalance=30_000)  # streamed: a later read sees the update
    report = _eventually(lambda: feed.imbalance("AAPL"), lambda r: r is not None and r.imbalance == 30_000)
    assert report.side == "buy"


def test_a_symbol_without_auction_values_reads_as_none_not_as_an_outage(gw: IbGateway, feed: IbkrFeed) -> None:
    assert feed.imbalance("SPY") is None
    assert gw.subscriptions("SPY") == [("SPY", frozenset({"225"}))]


def test_the_source_subscribes_the_close_symbols_only_inside_the_window_and_cancels_after(
    gw: IbGateway, feed: IbkrFeed
) -> None:
    gw.set_imbalance("AAPL", paired=100_000, imbalance=10_000)
    source = IbkrImbalanceSource.for_settings(feed, _settings())
    assert source.imbalance("AAPL", WINTER_BEFORE) is None
    assert gw.count(ib_wire.REQ_MKT_DATA) == 0  # outside the window IB is not asked at all

    report = source.imbalance("AAPL", WINTER_IN)
    assert report is not None and (report.side, report.shares, report.paired) == ("buy", 10_000, 100_000)
    feed.heartbeat()  # a round trip: every request sent before it has been handled
    assert sorted(s for s, _ in gw.subscriptions()) == ["AAPL", "SPY"]  # every close symbol, at once
    assert source.imbalance("MSFT", WINTER_IN) is None  # not a close symbol

    assert source.imbalance("AAPL", WINTER_IN + timedelta(minutes=20)) is None  # the window is over
    feed.heartbeat()  # a round trip: the cancels reached the gateway before it
    assert gw.subscriptions() == []


def test_the_window_follows_the_real_close_across_daylight_saving(gw: IbGateway, feed: IbkrFeed) -> None:
    gw.set_imbalance("SPY", paired=100_000, imbalance=-10_000)
    source = IbkrImbalanceSource.for_settings(feed, _settings())
    assert source.imbalance("SPY", SUMMER_AFTER) is None
    assert gw.count(ib_wire.REQ_MKT_DATA) == 0
    report = source.imbalance("SPY", SUMMER_IN)
    assert report is not None and report.side == "sell"


def test_a_reconnect_subscribes_again(gw: IbGateway, feed: IbkrFeed) -> None:
    gw.set_imbalance("AAPL", paired=100_000, imbalance=10_000)
    assert feed.imbalance("AAPL") is not None
    gw.drop_clients()
    _eventually(lambda: feed._session.ib.isConnected(), lambda connected: not connected)
    feed.heartbeat()  # reconnects
    assert feed.imbalance("AAPL") is not None
    assert gw.count(ib_wire.REQ_MKT_DATA) == 2


# -- through the market context to the gate ----------------------------------------------------------------------------
def _decide(gw: IbGateway, feed: IbkrFeed, paths: HomePaths, side: str, **values: str):
    """A close-strategy entry at 20:45 UTC judged by the real gate on the market data IBKR delivered."""
    gw.add_bars("VIX", WINTER_IN - timedelta(minutes=10), 11, price="18.2", step=timedelta(minutes=1))
    settings = _settings(**values)
    market = build_market_data(feed, settings, paths, fundamentals=None)
    close = signal("close", symbol="AAPL", side=side, ts=WINTER_IN)
    assert market.at(WINTER_IN) == 18.2  # the close strategy's VIX comes from IB too
    with AuditLog(paths.audit_db) as audit:
        gate = Gate(settings, IDENTITY, paths, audit=audit, broker_code="IBKR", clock=lambda: WINTER_IN)
        decision = gate.decide(close, market.context(close))
    return decision, next(v for v in decision.verdicts if v.module == "imbalance_scanner_ibkr")


def test_a_close_entry_with_a_supportive_imbalance_is_allowed(gw: IbGateway, feed: IbkrFeed, home_paths) -> None:
    gw.set_imbalance("AAPL", paired=100_000, imbalance=80_000)  # buyers waiting: supports a buy
    decision, verdict = _decide(gw, feed, home_paths, "buy")
    assert decision.allow and verdict.allow
    assert verdict.context["imbalance_side"] == "buy" and verdict.context["shares"] == 80_000


def test_a_close_entry_against_strong_opposing_pressure_is_blocked(gw: IbGateway, feed: IbkrFeed, home_paths) -> None:
    gw.set_imbalance("AAPL", paired=100_000, imbalance=-80_000)  # sellers waiting, 0.8x paired (max 0.5)
    decision, verdict = _decide(gw, feed, home_paths, "buy")
    assert not decision.allow and not verdict.allow
    assert "sell imbalance 0.80x paired volume opposes a buy" in verdict.reason


@pytest.mark.parametrize(("fatal", "allowed"), [("true", False), ("false", True)])
def test_no_imbalance_data_in_the_window_follows_the_fatal_setting(
    gw: IbGateway, feed: IbkrFeed, home_paths, fatal: str, allowed: bool
) -> None:
    decision, verdict = _decide(gw, feed, home_paths, "buy", IMBALANCE_SCANNER_FATAL=fatal)
    assert decision.allow is allowed and verdict.context["failure"] == "imbalance_missing"
    assert f"IMBALANCE_SCANNER_FATAL={fatal}" in verdict.reason


def test_market_data_has_no_imbalance_source_when_the_scanner_cannot_use_it(feed: IbkrFeed, home_paths) -> None:
    for values in ({"IMBALANCE_SCANNER_ENABLED": "false"}, {"STRAT_CLOSE_ENABLED": "false"}):
        market = build_market_data(feed, _settings(**values), home_paths, fundamentals=None)
        assert isinstance(market, MarketData)
        assert market.context(signal("close", symbol="AAPL", ts=WINTER_IN)).imbalance == {}


def test_the_side_falls_back_to_the_regulatory_imbalance_when_the_auction_one_is_flat() -> None:
    def report(imbalance: float, regulatory: float | None) -> AuctionImbalance:
        return AuctionImbalance("AAPL", WINTER_IN, 1000.0, imbalance, 187.0, regulatory)

    assert report(0.0, -300.0).side == "sell" and report(0.0, 300.0).side == "buy"
    assert report(-10.0, 300.0).side == "sell"  # the auction imbalance itself wins
    assert report(0.0, None).to_signal() == Imbalance(ts=WINTER_IN, side="buy", shares=0.0, paired=1000.0)
