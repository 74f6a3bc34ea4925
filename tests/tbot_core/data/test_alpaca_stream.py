"""The streamed Alpaca feed: alpaca-py's real ``StockDataStream`` against a local websocket server (msgpack)."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from tbot_core.bars import Bar
from tbot_core.brokers.alpaca_common import AlpacaCredentials
from tbot_core.data.alpaca import AlpacaFeed, make_alpaca_feed
from tbot_core.data.alpaca_stream import AlpacaStreamFeed, in_regular_session
from tbot_core.errors import NetworkError
from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.fakes.alpaca_stream_server import FakeAlpacaStream

T0 = datetime(2025, 1, 2, 14, 31, tzinfo=UTC)
CREDS = AlpacaCredentials.from_mapping({"api_key": API_KEY, "secret_key": SECRET_KEY})


@pytest.fixture
def streams() -> Iterator[FakeAlpacaStream]:
    with FakeAlpacaStream() as server:
        yield server


@pytest.fixture
def rest() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


class Reader:
    """Drains ``feed.bars()`` on a thread, as the engine does, so the test can wait for what arrived."""

    def __init__(self, feed: AlpacaStreamFeed) -> None:
        self.feed = feed
        self.bars: list[Bar] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def _run(self) -> None:
        for bar in self.feed.bars():
            self.bars.append(bar)

    def wait_for(self, count: int, timeout: float = 10) -> list[Bar]:
        deadline = time.monotonic() + timeout
        while len(self.bars) < count and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(self.bars) >= count, f"got {len(self.bars)} bars, expected {count}"
        return self.bars


def _feed(streams: FakeAlpacaStream, rest_url: str = "http://127.0.0.1:9", **kwargs: object) -> AlpacaStreamFeed:
    options: dict = {"in_session": lambda _now: True, **kwargs}
    return AlpacaStreamFeed(
        CREDS, symbols=("AAPL", "SPY"), url_override=rest_url, stream_url_override=streams.data_url, **options
    )


def _wait_heartbeat_ok(feed: AlpacaStreamFeed, timeout: float = 10) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            feed.heartbeat()
            return
        except NetworkError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


def test_streamed_bars_arrive_in_order_as_bars_in_utc(streams: FakeAlpacaStream) -> None:
    feed = _feed(streams)
    reader = Reader(feed)
    try:
        streams.wait_until("a subscription to both symbols", lambda s: s.subscribed("AAPL") and s.subscribed("SPY"))
        assert streams.subscriptions == [["AAPL", "SPY"]]
        for i in range(3):
            streams.push_bar("AAPL", T0 + timedelta(minutes=i), price=100 + i)
            streams.push_bar("SPY", T0 + timedelta(minutes=i), price=500 + i)
        bars = reader.wait_for(6)
    finally:
        feed.close()
    assert [(b.symbol, b.ts) for b in bars] == [
        (symbol, T0 + timedelta(minutes=i)) for i in range(3) for symbol in ("AAPL", "SPY")
    ]
    first = bars[0]
    assert (first.open, first.high, first.low, first.close, first.volume) == (100.0, 100.5, 99.5, 100.25, 1000.0)
    assert first.ts.utcoffset() == timedelta(0)
    reader.thread.join(5)
    assert not reader.thread.is_alive()  # close() ended bars()


def test_a_silent_stream_fails_the_heartbeat_during_the_session_only(streams: FakeAlpacaStream) -> None:
    in_session = [True]
    feed = _feed(streams, silence_seconds=0.3, in_session=lambda _now: in_session[0])
    reader = Reader(feed)
    try:
        streams.wait_until("a subscription", lambda s: s.subscribed("AAPL"))
        _wait_heartbeat_ok(feed)
        time.sleep(0.4)  # connected and subscribed, but not one bar
        with pytest.raises(NetworkError, match=r"no bar for .* during the session \(ALPACA_STREAM_SILENCE_SECONDS"):
            feed.heartbeat()
        in_session[0] = False
        feed.heartbeat()  # outside the session no bars is normal
        in_session[0] = True
        streams.push_bar("AAPL", T0)
        reader.wait_for(1)
        feed.heartbeat()  # a bar is a sign of life
    finally:
        feed.close()


def test_a_dropped_connection_fails_the_heartbeat_then_reconnects_and_resubscribes(
    streams: FakeAlpacaStream, rest: FakeAlpaca
) -> None:
    feed = _feed(streams, rest_url=rest.url)  # REST answers the gap fetch: nothing was missed
    reader = Reader(feed)
    try:
        streams.wait_until("a subscription", lambda s: s.subscribed("AAPL"))
        streams.push_bar("AAPL", T0)
        reader.wait_for(1)
        assert streams.drop_connections() == 1
        deadline = time.monotonic() + 5
        failed = ""
        while not failed and time.monotonic() < deadline:
            try:
                feed.heartbeat()
            except NetworkError as exc:
                failed = str(exc)
        assert "not connected" in failed  # while alpaca-py backs off before reconnecting
        streams.wait_until("a second connection", lambda s: s.connections["data"] == 2 and s.subscribed("AAPL"))
        _wait_heartbeat_ok(feed)
        streams.push_bar("AAPL", T0)  # the same bar again (a server replaying after the reconnect): yielded once
        streams.push_bar("AAPL", T0 + timedelta(minutes=1), price=101)
        bars = reader.wait_for(2)
        time.sleep(0.1)
    finally:
        feed.close()
    assert [b.ts for b in bars] == [T0, T0 + timedelta(minutes=1)]
    assert feed.connects == 2 and streams.subscriptions == [["AAPL", "SPY"], ["AAPL", "SPY"]]


def test_wrong_keys_never_connect_and_the_heartbeat_says_so(streams: FakeAlpacaStream) -> None:
    wrong = AlpacaCredentials.from_mapping({"api_key": "PKWRONG", "secret_key": "wrongsecret"})
    feed = AlpacaStreamFeed(wrong, symbols=("AAPL",), stream_url_override=streams.data_url)
    reader = Reader(feed)
    try:
        streams.wait_until("a refused login", lambda s: s.auth_failures >= 1)
        with pytest.raises(NetworkError, match="alpaca data stream: not connected") as caught:
            feed.heartbeat()
        assert "wrongsecret" not in str(caught.value)
    finally:
        feed.close()
    assert reader.bars == [] and streams.connections["data"] == 0


def test_before_bars_start_the_heartbeat_asks_the_rest_api(streams: FakeAlpacaStream, rest: FakeAlpaca) -> None:
    rest.add_minute_bars("AAPL", T0, 1)
    feed = _feed(streams, rest_url=rest.url)
    feed.heartbeat()
    assert rest.count("GET", "/v2/stocks/bars/latest") == 1 and streams.connections["data"] == 0
    feed.close()  # never started: nothing to stop


def test_history_with_an_end_comes_from_the_rest_api(streams: FakeAlpacaStream, rest: FakeAlpaca) -> None:
    rest.add_minute_bars("AAPL", T0, 3)
    feed = AlpacaStreamFeed(
        CREDS,
        symbols=("AAPL",),
        url_override=rest.url,
        stream_url_override=streams.data_url,
        end=T0 + timedelta(hours=1),
    )
    assert [b.ts for b in feed.bars()] == [T0 + timedelta(minutes=i) for i in range(3)]
    assert streams.connections["data"] == 0


def test_feed_mode_picks_the_stream_by_default_and_the_poller_as_fallback(bot_home: BotHome) -> None:
    SecretStore(bot_home).set("broker_alpaca", {"api_key": API_KEY, "secret_key": SECRET_KEY})
    settings = bot_home.settings.with_values({"BROKER": "alpaca"})
    assert settings.alpaca_feed_mode == "stream"
    assert isinstance(make_alpaca_feed(bot_home, settings), AlpacaStreamFeed)
    polled = make_alpaca_feed(bot_home, settings.with_values({"ALPACA_FEED_MODE": "poll"}))
    assert type(polled) is AlpacaFeed


def test_the_regular_session_follows_the_exchange_calendar() -> None:
    assert in_regular_session(datetime(2025, 1, 2, 15, 0, tzinfo=UTC))  # 10:00 New York, winter
    assert not in_regular_session(datetime(2025, 1, 2, 14, 0, tzinfo=UTC))  # 09:00 New York: not open yet
    assert in_regular_session(datetime(2025, 7, 2, 14, 0, tzinfo=UTC))  # 10:00 New York, summer
    assert not in_regular_session(datetime(2025, 1, 4, 15, 0, tzinfo=UTC))  # a Saturday


def _reconnect(streams: FakeAlpacaStream, feed: AlpacaStreamFeed) -> None:
    assert streams.drop_connections() == 1
    streams.wait_until("a second connection", lambda s: s.connections["data"] == 2 and s.subscribed("AAPL"))


def test_after_a_reconnect_the_minutes_the_stream_missed_come_from_rest_in_order_once(
    streams: FakeAlpacaStream, rest: FakeAlpaca
) -> None:
    """A dropped socket must not leave a hole in the bars the strategies see: the gap is fetched over REST."""
    rest.add_minute_bars("AAPL", T0, 4)  # T0 .. T0+3
    rest.add_minute_bars("SPY", T0 + timedelta(minutes=1), 3)  # T0+1 .. T0+3
    feed = _feed(streams, rest_url=rest.url)
    reader = Reader(feed)
    try:
        streams.wait_until("a subscription", lambda s: s.subscribed("AAPL"))
        streams.push_bar("AAPL", T0)
        reader.wait_for(1)
        _reconnect(streams, feed)  # T0+1 .. T0+3 closed while the stream was down
        streams.push_bar("AAPL", T0 + timedelta(minutes=3))  # also fetched: yielded once
        streams.push_bar("AAPL", T0 + timedelta(minutes=4), price=104)
        bars = reader.wait_for(8)
        time.sleep(0.1)
        _wait_heartbeat_ok(feed)
    finally:
        feed.close()
    assert [(b.symbol, b.ts - T0) for b in bars] == [
        ("AAPL", timedelta(0)),
        *[(symbol, timedelta(minutes=i)) for i in (1, 2, 3) for symbol in ("AAPL", "SPY")],
        ("AAPL", timedelta(minutes=4)),
    ]
    assert feed.backfilled == 6 and feed.gap == ""


def test_the_first_connection_fetches_nothing_over_rest(streams: FakeAlpacaStream, rest: FakeAlpaca) -> None:
    rest.add_minute_bars("AAPL", T0, 3)
    feed = _feed(streams, rest_url=rest.url)
    reader = Reader(feed)
    try:
        streams.wait_until("a subscription", lambda s: s.subscribed("AAPL"))
        streams.push_bar("AAPL", T0 + timedelta(minutes=5))
        reader.wait_for(1)
    finally:
        feed.close()
    assert rest.count("GET", "/v2/stocks/bars") == 0 and feed.backfilled == 0


def test_a_gap_that_cannot_be_fetched_reports_market_data_down_naming_the_window(streams: FakeAlpacaStream) -> None:
    """Fail closed: strategies must not trade on a series with a silent hole in it."""
    feed = _feed(streams)  # the REST API is unreachable (127.0.0.1:9)
    reader = Reader(feed)
    try:
        streams.wait_until("a subscription", lambda s: s.subscribed("AAPL"))
        streams.push_bar("AAPL", T0)
        reader.wait_for(1)
        _reconnect(streams, feed)
        deadline = time.monotonic() + 15  # three tries, 1 s and 2 s apart
        while not feed.gap and time.monotonic() < deadline:
            time.sleep(0.05)
        with pytest.raises(NetworkError, match=r"the bars since 2025-01-02T14:32:00.*could not be fetched"):
            feed.heartbeat()
    finally:
        feed.close()
