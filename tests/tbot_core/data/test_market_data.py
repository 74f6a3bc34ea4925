"""The market context comes from the data layer for every broker (issue #16 item 1), built by ``build_parts``.

Real parts: a real paper home and its replay feed; for Alpaca the real feed
against a local Alpaca server, VIX from the home's ``data/market/vix.csv`` or
from Finnhub through the real finnhub client against a local server.  A source
that fails reaches the module as a failed source, and its ``*_FATAL`` decides.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.core_store import CoreStore
from tbot_core.data.alpaca import AlpacaFeed
from tbot_core.data.market import MarketFeed, market_data_of
from tbot_core.enhancements.vix_gatekeeper import VixGatekeeper
from tbot_core.home import BotHome
from tbot_core.runtime.wiring import CoreParts, build_parts
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.secrets.store import SecretStore
from tbot_core.signals import Signal
from tbot_core.syslog import SystemLog
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.tbot_core.enhancements.helpers import env

FINNHUB_KEY = "fh-test-key-654321"
T0 = datetime(2026, 1, 6, 20, 35, tzinfo=UTC)  # a close-window minute, winter


class _Finnhub(BaseHTTPRequestHandler):
    status = 200
    quote_time = T0

    def do_GET(self) -> None:
        url = urlparse(self.path)
        query = parse_qs(url.query)
        if type(self).status != 200:
            return self._send(type(self).status, {"error": "down"})
        if url.path.endswith("/quote"):
            assert query["symbol"] == ["^VIX"] and query["token"] == [FINNHUB_KEY]
            return self._send(200, {"c": 18.5, "t": int(type(self).quote_time.timestamp()), "pc": 18.1})
        metric = {"peNormalizedAnnual": 20.0, "totalDebt/totalEquityAnnual": 0.5, "marketCapitalization": 90_000}
        self._send(200, {"metric": metric, "symbol": query["symbol"][0]})

    def _send(self, code: int, body: object) -> None:
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def finnhub() -> Iterator[str]:
    _Finnhub.status, _Finnhub.quote_time = 200, T0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Finnhub)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api/v1"
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def alpaca() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


def _parts(home: BotHome, **values: str) -> CoreParts:
    """``build_parts`` as the supervisor calls it, with ``values`` laid over the home's config."""
    settings = home.settings.with_values(values)
    paths, ident = home.paths, home.identity
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY), "JSON")
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    notifier = Notifier(lambda name: None, syslog, bot_identity=ident.BOT_IDENTITY, enabled=False)
    return build_parts(home, ctx, CoreStore(paths.core_db), notifier)


def _alpaca_parts(home: BotHome, server: FakeAlpaca, **values: str) -> CoreParts:
    SecretStore(home).set("broker_alpaca", {"api_key": API_KEY, "secret_key": SECRET_KEY})
    return _parts(home, BROKER="alpaca", ALPACA_URL_OVERRIDE=server.url, ALPACA_DATA_URL_OVERRIDE=server.url, **values)


def _close_entry(ts: datetime = T0, symbol: str = "AAPL") -> Signal:
    return Signal(ts, "close", symbol, "buy", Decimal("100"), "test close entry", {})


def test_paper_feed_from_build_parts_puts_the_replay_vix_into_each_signals_context(bot_home):
    feed = _parts(bot_home).make_feed(None)
    assert isinstance(feed, MarketFeed)
    bar = next(iter(feed.bars()))
    market = market_data_of(feed)
    assert market.at(bar.ts) == 17.43  # the sample VIX's first row
    context = market.context(_close_entry(bar.ts, bar.symbol))
    assert context.vix == 17.43 and not context.failed


def test_alpaca_with_vix_from_finnhub_gets_the_quote_into_the_context(bot_home, alpaca, finnhub):
    SecretStore(bot_home).set("screener_api", {"api_key": FINNHUB_KEY})
    parts = _alpaca_parts(bot_home, alpaca, VIX_SOURCE="finnhub", FINNHUB_API_URL=finnhub)
    feed = parts.make_feed(None)
    assert isinstance(feed, MarketFeed) and isinstance(feed.inner, AlpacaFeed)
    market = market_data_of(feed)
    assert market.at(T0) == 18.5
    decision = parts.gate.decide(_close_entry(), market.context(_close_entry()))
    assert [(v.module, v.allow) for v in decision.verdicts][:2] == [
        ("ticker_blocklist", True),
        ("vix_gatekeeper", True),
    ]


@pytest.mark.parametrize("fatal", [True, False])
def test_finnhub_down_reaches_the_vix_gatekeeper_as_a_failed_source_and_its_fatal_setting_decides(
    bot_home, alpaca, finnhub, fatal
):
    SecretStore(bot_home).set("screener_api", {"api_key": FINNHUB_KEY})
    _Finnhub.status = 503
    parts = _alpaca_parts(
        bot_home, alpaca, VIX_SOURCE="finnhub", FINNHUB_API_URL=finnhub, VIX_GATEKEEPER_FATAL=str(fatal).lower()
    )
    market = market_data_of(parts.make_feed(None))
    assert market.at(T0) is None
    context = market.context(_close_entry())
    assert "HTTP 503" in context.failed["vix"]
    verdict = next(v for v in parts.gate.decide(_close_entry(), context).verdicts if v.module == "vix_gatekeeper")
    assert verdict.allow is not fatal and "HTTP 503" in verdict.reason
    assert ("VIX_GATEKEEPER_FATAL=true" if fatal else "VIX_GATEKEEPER_FATAL=false") in verdict.reason


def test_a_stale_finnhub_quote_is_a_failed_source_not_a_level(bot_home, alpaca, finnhub):
    SecretStore(bot_home).set("screener_api", {"api_key": FINNHUB_KEY})
    _Finnhub.quote_time = T0 - timedelta(hours=3)  # VIX_MAX_AGE_MINUTES defaults to 60
    market = market_data_of(
        _alpaca_parts(bot_home, alpaca, VIX_SOURCE="finnhub", FINNHUB_API_URL=finnhub).make_feed(None)
    )
    assert market.at(T0) is None and "older than VIX_MAX_AGE_MINUTES=60" in market.context(_close_entry()).failed["vix"]


def test_alpaca_with_the_homes_vix_file_reads_the_latest_level_and_a_change_to_the_file(bot_home, alpaca):
    path = bot_home.paths.vix_file
    path.write_text("timestamp_utc,vix\n2026-01-06T20:30:00Z,16.2\n2026-01-06T20:34:00Z,16.9\n")
    market = market_data_of(_alpaca_parts(bot_home, alpaca, VIX_SOURCE="file").make_feed(None))
    assert market.at(T0) == 16.9
    path.write_text(path.read_text() + "2026-01-06T20:35:00Z,21.4\n")  # the operator's updater appends a row
    assert market.at(T0) == 21.4


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("timestamp_utc,vix\n2026-01-06T20:30:00Z,abc\n", "data/market/vix.csv:2: expected timestamp_utc,vix"),
        ("when,level\n", "data/market/vix.csv:1: expected header timestamp_utc,vix"),
        (None, "data/market/vix.csv: cannot read (FileNotFoundError)"),
        ("timestamp_utc,vix\n2026-01-06T18:00:00Z,16.0\n", "older than VIX_MAX_AGE_MINUTES=60"),
    ],
)
def test_an_unusable_vix_file_is_a_failed_source_naming_the_file(bot_home, alpaca, text, expected):
    if text is not None:
        bot_home.paths.vix_file.write_text(text)
    parts = _alpaca_parts(bot_home, alpaca, VIX_SOURCE="file")
    market = market_data_of(parts.make_feed(None))
    assert market.at(T0) is None
    context = market.context(_close_entry())
    assert expected in context.failed["vix"]
    decision = parts.gate.decide(_close_entry(), context)
    assert not decision.allow and decision.reason.startswith("vix_gatekeeper: ")


@pytest.mark.parametrize("fatal", [True, False])
def test_fundamentals_source_down_reaches_the_guard_as_a_failed_source(bot_home, finnhub, fatal):
    SecretStore(bot_home).set("screener_api", {"api_key": FINNHUB_KEY})
    _Finnhub.status = 503
    parts = _parts(
        bot_home,
        FUNDAMENTAL_GUARD_ENABLED="true",
        FINNHUB_API_URL=finnhub,
        FUNDAMENTAL_GUARD_FATAL=str(fatal).lower(),
        STRAT_CLOSE_ENABLED="false",
    )
    feed = parts.make_feed(None)
    bar = next(iter(feed.bars()))
    market = market_data_of(feed)
    market.at(bar.ts)
    entry = Signal(bar.ts, "open", bar.symbol, "buy", Decimal("100"), "test open entry", {})
    context = market.context(entry)
    assert "HTTP 503" in context.failed["fundamentals"] and not context.fundamentals
    verdict = next(v for v in parts.gate.decide(entry, context).verdicts if v.module == "finnhub_fundamental_guard")
    assert verdict.allow is not fatal and "fundamentals unavailable" in verdict.reason


@pytest.mark.parametrize(
    ("values", "ok"),
    [
        ({"BROKER": "alpaca"}, False),  # VIX_SOURCE=auto: Alpaca's feed has no index data
        ({"BROKER": "alpaca", "VIX_SOURCE": "feed"}, False),
        ({"BROKER": "alpaca", "STRAT_CLOSE_ENABLED": "false"}, True),  # nobody needs VIX
        ({"BROKER": "paper"}, True),
        ({"BROKER": "ibkr"}, True),
    ],
)
def test_vix_gatekeeper_self_check_refuses_a_close_strategy_with_no_vix_source(home_paths, values, ok):
    settings = BotHome(str(home_paths.root)).settings.with_values(values)
    result = VixGatekeeper(env(home_paths, settings, broker=values["BROKER"])).self_check()
    assert result.ok is ok
    if not ok:
        assert "VIX_SOURCE=file" in result.hint and "VIX_SOURCE=finnhub" in result.hint
        assert "BROKER=alpaca" in result.detail


def test_vix_gatekeeper_self_check_with_the_file_source_wants_the_file(home_paths):
    settings = BotHome(str(home_paths.root)).settings.with_values({"BROKER": "alpaca", "VIX_SOURCE": "file"})
    gatekeeper = VixGatekeeper(env(home_paths, settings, broker="alpaca"))
    assert not gatekeeper.self_check().ok
    home_paths.vix_file.write_text("timestamp_utc,vix\n2026-01-06T20:30:00Z,16.2\n")
    assert gatekeeper.self_check().ok
