"""The Alpaca feed drives the real ``StockHistoricalDataClient`` (``url_override``) against a local fake."""

from __future__ import annotations

import socket
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from itertools import islice

import pytest

from tbot_core.brokers.alpaca_common import AlpacaCredentials
from tbot_core.brokers.errors import BrokerUnreachable
from tbot_core.data.alpaca import AlpacaFeed
from tbot_core.errors import ConfigError, NetworkError
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca

T0 = datetime(2025, 1, 2, 14, 30, tzinfo=UTC)
CREDS = AlpacaCredentials.from_mapping({"api_key": API_KEY, "secret_key": SECRET_KEY})


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


def test_history_follows_next_page_token_across_pages_and_merges_symbols_in_time_order(fake: FakeAlpaca) -> None:
    fake.add_minute_bars("AAPL", T0, 5, price=100)
    fake.add_minute_bars("SPY", T0, 4, price=500)
    feed = AlpacaFeed(CREDS, symbols=("AAPL", "SPY"), url_override=fake.url, start=T0, end=T0 + timedelta(hours=1))
    bars = list(feed.bars())
    assert len(bars) == 9
    assert [b.ts for b in bars] == sorted(b.ts for b in bars)
    assert bars[0].symbol == "AAPL" and bars[0].ts == T0 and bars[0].close == 100.25
    assert all(b.ts.tzinfo is not None and b.ts.utcoffset() == timedelta(0) for b in bars)
    pages = [r for r in fake.requests if r.path == "/v2/stocks/bars"]
    assert len(pages) == 5  # 9 bars, 2 per page
    assert [p.query.get("page_token") for p in pages[1:]] == ["2", "4", "6", "8"]
    assert pages[0].query["feed"] == "iex" and pages[0].query["timeframe"] == "1Min"


def test_live_mode_yields_only_completed_minutes_and_each_once(fake: FakeAlpaca) -> None:
    fake.add_minute_bars("AAPL", T0, 3)
    now = [T0 + timedelta(minutes=2, seconds=30)]  # minute 2 is still forming

    def clock() -> datetime:
        return now[0]

    feed = AlpacaFeed(CREDS, symbols=("AAPL",), url_override=fake.url, poll_seconds=0.01, start=T0, clock=clock)
    stream = feed.bars()
    first = list(islice(stream, 2))
    assert [b.ts for b in first] == [T0, T0 + timedelta(minutes=1)]
    fake.add_minute_bars("AAPL", T0 + timedelta(minutes=3), 1)
    now[0] = T0 + timedelta(minutes=4, seconds=1)
    later = list(islice(stream, 2))
    assert [b.ts for b in later] == [T0 + timedelta(minutes=2), T0 + timedelta(minutes=3)]
    feed.close()
    assert list(stream) == []


def test_heartbeat_asks_for_the_latest_bar_and_maps_errors(fake: FakeAlpaca) -> None:
    fake.add_minute_bars("AAPL", T0, 1)
    feed = AlpacaFeed(CREDS, symbols=("AAPL",), url_override=fake.url)
    feed.heartbeat()
    assert fake.count("GET", "/v2/stocks/bars/latest") == 1
    fake.fail("/v2/stocks/bars/latest", 429)
    with pytest.raises(NetworkError, match="alpaca data latest bar: HTTP 429"):
        feed.heartbeat()
    fake.fail("/v2/stocks/bars", 401)
    with pytest.raises(ConfigError, match="HTTP 401"):
        feed.history(T0, None)


def test_unreachable_data_api_is_a_feed_heartbeat_failure() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    feed = AlpacaFeed(CREDS, symbols=("AAPL",), url_override=f"http://127.0.0.1:{port}")
    with pytest.raises(BrokerUnreachable) as caught:
        feed.heartbeat()
    assert caught.value.matrix_key == "feed_down"


def test_alpaca_has_no_vix_so_the_feed_says_unknown(fake: FakeAlpaca) -> None:
    assert AlpacaFeed(CREDS, symbols=("SPY",), url_override=fake.url).vix(T0) is None


def test_a_feed_without_symbols_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="SYMBOLS"):
        AlpacaFeed(CREDS, symbols=(), url_override="http://127.0.0.1:9")
