"""The real finnhub-python client against a local server (``API_URL`` override): 200, 401, 429, 500."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from tbot_core.config import Settings
from tbot_core.data.finnhub import FinnhubFundamentals
from tbot_core.errors import ConfigError, NetworkError
from tbot_core.paths import HomePaths

KEY = "fhtestkey-never-printed-0001"


class _Finnhub:
    """Answers ``/stock/metric`` with the queued (status, body) pairs, then with real-looking metrics."""

    def __init__(self) -> None:
        self.queue: list[tuple[int, dict]] = []
        self.paths: list[str] = []
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args: object) -> None:
                pass

            def do_GET(self) -> None:
                outer.paths.append(self.path)
                status, body = (
                    outer.queue.pop(0)
                    if outer.queue
                    else (
                        200,
                        {
                            "metric": {
                                "peNormalizedAnnual": 31.2,
                                "totalDebt/totalEquityAnnual": 1.4,
                                "marketCapitalization": 2950000.5,
                            },
                            "symbol": "AAPL",
                        },
                    )
                )
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/api/v1"


@pytest.fixture
def finnhub_server() -> Iterator[_Finnhub]:
    server = _Finnhub()
    yield server
    server.server.shutdown()
    server.server.server_close()


def _source(server: _Finnhub, home_paths: HomePaths) -> FinnhubFundamentals:
    settings = Settings().with_values({"FINNHUB_API_URL": server.url})
    return FinnhubFundamentals(
        settings, home_paths, clock=lambda: datetime(2025, 3, 3, 15, tzinfo=UTC), api_key=lambda paths: KEY
    )


def test_metrics_arrive_with_market_cap_in_usd_and_are_cached_for_the_day(
    finnhub_server: _Finnhub, home_paths: HomePaths
) -> None:
    facts = _source(finnhub_server, home_paths).lookup("AAPL")
    assert (facts.pe, facts.debt_equity, facts.market_cap_usd) == (31.2, 1.4, 2950000.5 * 1_000_000)
    assert "/stock/metric?" in finnhub_server.paths[0] and "symbol=AAPL&metric=all" in finnhub_server.paths[0]
    assert _source(finnhub_server, home_paths).lookup("AAPL") == facts
    assert len(finnhub_server.paths) == 1  # the second source read the day's cache file


def test_refused_key_is_a_security_error_without_the_key(finnhub_server: _Finnhub, home_paths: HomePaths) -> None:
    finnhub_server.queue.append((401, {"error": "Invalid API key"}))
    with pytest.raises(ConfigError, match="HTTP 401") as caught:
        _source(finnhub_server, home_paths).lookup("AAPL")
    assert KEY not in caught.value.one_line()


@pytest.mark.parametrize("status", [429, 500])
def test_rate_limit_and_server_error_are_network_errors_the_handler_retries(
    finnhub_server: _Finnhub, home_paths: HomePaths, status: int
) -> None:
    finnhub_server.queue.append((status, {"error": "API limit reached" if status == 429 else "oops"}))
    source = _source(finnhub_server, home_paths)
    with pytest.raises(NetworkError, match=f"HTTP {status}") as caught:
        source.lookup("MSFT")
    assert KEY not in caught.value.one_line()
    assert source.lookup("MSFT").pe == 31.2  # the retry the handler would make succeeds
