"""The fundamental guard with the real finnhub-python client against a local HTTP server."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlparse

import pytest

from tbot_core.config import Settings
from tbot_core.enhancements.finnhub_fundamental_guard import FinnhubFundamentalGuard
from tbot_core.secrets.store import SecretStore
from tbot_core.signals import MarketContext
from tests.tbot_core.enhancements.helpers import env, signal

API_KEY = "fh-test-key-123456"
METRICS = {  # marketCapitalization is in MILLIONS of USD, as Finnhub reports it
    "AAPL": {"peNormalizedAnnual": 31.2, "totalDebt/totalEquityAnnual": 1.5, "marketCapitalization": 3_400_000},
    "FROTH": {"peNormalizedAnnual": 180.0, "totalDebt/totalEquityAnnual": 0.2, "marketCapitalization": 50_000},
    "TINY": {"peNormalizedAnnual": 12.0, "totalDebt/totalEquityAnnual": 0.5, "marketCapitalization": 1_500},
    "GAPPY": {"marketCapitalization": 90_000},
}


class _Finnhub(BaseHTTPRequestHandler):
    hits: list[str] = []
    status = 200

    def do_GET(self):
        url = urlparse(self.path)
        query = parse_qs(url.query)
        type(self).hits.append(url.path)
        if query.get("token") != [API_KEY]:
            return self._send(401, {"error": "Invalid API key"})
        if type(self).status != 200:
            return self._send(type(self).status, {"error": "busy"})
        symbol = query["symbol"][0]
        self._send(200, {"metric": METRICS.get(symbol, {}), "symbol": symbol, "metricType": "all"})

    def _send(self, code, body):
        data = json.dumps(body).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


@pytest.fixture
def server():
    _Finnhub.hits, _Finnhub.status = [], 200
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Finnhub)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}/api/v1"
    httpd.shutdown()
    httpd.server_close()


def _guard(bot_home, url, *, key=API_KEY):
    if key:
        SecretStore(bot_home).set("screener_api", {"api_key": key})
    settings = Settings().with_values({"FUNDAMENTAL_GUARD_ENABLED": "true", "FINNHUB_API_URL": url})
    return FinnhubFundamentalGuard(env(bot_home.paths, settings, clock=lambda: datetime(2026, 1, 6, 15, tzinfo=UTC)))


def test_thresholds_compare_market_cap_in_usd_not_millions(bot_home, server):
    guard = _guard(bot_home, server)
    verdict = lambda sym: guard.evaluate(signal(symbol=sym), MarketContext())  # noqa: E731 - a one-line local helper reads better inline
    ok = verdict("AAPL")
    assert ok.allow and ok.context["market_cap_usd"] == 3_400_000_000_000
    assert "PE 180 > 50" in verdict("FROTH").reason
    assert "market cap $1,500,000,000 < $2,000,000,000" in verdict("TINY").reason
    assert "no pe" in verdict("GAPPY").reason
    assert _Finnhub.hits[0] == "/api/v1//stock/metric"  # the client's double slash


def test_one_fetch_per_symbol_per_day_through_the_daily_cache_file(bot_home, server):
    guard = _guard(bot_home, server)
    guard.evaluate(signal(symbol="AAPL"), MarketContext())
    guard.evaluate(signal(symbol="AAPL"), MarketContext())
    again = _guard(bot_home, server)  # a restarted engine reads today's cache
    assert again.evaluate(signal(symbol="AAPL"), MarketContext()).allow
    assert len(_Finnhub.hits) == 1
    cache = bot_home.paths.fundamentals_cache(datetime(2026, 1, 6).date())
    assert json.loads(cache.read_text())["AAPL"]["pe"] == 31.2


def test_unreachable_source_blocks_with_a_reason_and_no_key_in_it(bot_home, server):
    guard = _guard(bot_home, "http://127.0.0.1:9/api/v1")
    outcome = guard.evaluate(signal(symbol="AAPL"), MarketContext())
    assert not outcome.allow and "unreachable" in outcome.reason and API_KEY not in outcome.reason


def test_server_errors_and_a_rejected_key_block(bot_home, server):
    _Finnhub.status = 503
    assert "HTTP 503" in _guard(bot_home, server).evaluate(signal(symbol="AAPL"), MarketContext()).reason
    refused = _guard(bot_home, server, key="wrong-key-000").evaluate(signal(symbol="MSFT"), MarketContext())
    assert "refused the screener_api key (HTTP 401)" in refused.reason


def test_missing_secret_blocks_and_fails_the_self_check(bot_home, server):
    guard = _guard(bot_home, server, key=None)
    outcome = guard.evaluate(signal(symbol="AAPL"), MarketContext())
    assert not outcome.allow and "screener_api" in outcome.reason and "not set" in outcome.reason
    assert not guard.self_check().ok
