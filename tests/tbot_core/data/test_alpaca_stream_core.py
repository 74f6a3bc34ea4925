"""A real ``tbot core`` with BROKER=alpaca in its default stream mode, every endpoint on 127.0.0.1.

The core's production wiring picks the streamed feed and the trade-updates
listener from the config; bars pushed on the market-data websocket reach the
engine, its order reaches the REST fake, the fill comes back as a trade
update and is booked in the ledger, and the watchdog's feed heartbeat is fed
by the stream (the feed row stays ``ok``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import apsw

from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore
from tbot_core.timeutil import iso_z
from tests.conftest import run_tbot
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.fakes.alpaca_stream_server import FakeAlpacaStream
from tests.tbot_core.runtime.core_harness import audit_events, make_home, start_core, state, stop_core, wait_for


def _stream_home(rest: FakeAlpaca, streams: FakeAlpacaStream) -> dict[str, str]:
    """An Alpaca home in stream mode against the local REST and websocket fakes, VIX from the home's file."""
    return {
        "BROKER": "alpaca",
        "ALPACA_URL_OVERRIDE": rest.url,
        "ALPACA_DATA_URL_OVERRIDE": rest.url,
        "ALPACA_DATA_STREAM_URL_OVERRIDE": streams.data_url,
        "ALPACA_TRADING_STREAM_URL_OVERRIDE": streams.trading_url,
        "SYMBOLS": "SPY,AAPL",
        "VIX_SOURCE": "file",
    }


def test_a_core_in_stream_mode_trades_on_streamed_bars_and_books_the_fill(tmp_path) -> None:
    with FakeAlpaca() as rest, FakeAlpacaStream() as streams:
        rest.state.fill_listeners.append(lambda order: streams.push_trade_update("fill", order))
        paths = make_home(
            tmp_path,
            {
                **_stream_home(rest, streams),
                "ADX_FILTER_ENABLED": "false",
                "BOLLINGER_CONFLUENCE_ENABLED": "false",
            },
        )
        SecretStore(BotHome(str(paths.root))).set("broker_alpaca", {"api_key": API_KEY, "secret_key": SECRET_KEY})
        paths.vix_file.write_text(f"timestamp_utc,vix\n{iso_z()},18.2\n")
        proc = start_core(paths, scripted_signal_every=1)
        try:
            streams.wait_until("the core's data stream subscribed", lambda s: s.subscribed("SPY"), timeout=30)
            streams.wait_until("the core's trade updates listener", lambda s: s.listening(), timeout=30)
            start = datetime.now(UTC).replace(second=0, microsecond=0) - timedelta(minutes=5)
            for i in range(3):
                for symbol in ("SPY", "AAPL"):
                    price = float(rest.state.prices[symbol])
                    streams.push_bar(symbol, start + timedelta(minutes=i), price=price, spread=0)
            orders = wait_for(
                lambda: rest.count("POST", "/v2/orders") and state(paths).get("orders"), "an order from streamed bars"
            )
            assert all(o["status"] == "filled" for o in orders)
            assert state(paths)["watchdog"]["feed"]["state"] == "ok"
            result = run_tbot("control", "stop", "--reason", "scenario done", home=paths.root)
            assert result.returncode == 0, result.stdout + result.stderr
            assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
        finally:
            stop_core(proc)
        fills = {a["id"] for a in rest.state.activities if a["activity_type"] == "FILL"}
        conn = apsw.Connection(str(paths.ledger_db), flags=apsw.SQLITE_OPEN_READONLY)
        try:
            booked = {row[0] for row in conn.execute("SELECT fitid FROM groups WHERE kind = 'FILL'")}
        finally:
            conn.close()
    assert fills and fills == booked


def test_a_stream_that_stays_down_is_market_data_down_for_the_watchdog(tmp_path) -> None:
    with FakeAlpaca() as rest, FakeAlpacaStream() as streams:
        paths = make_home(
            tmp_path,
            {
                **_stream_home(rest, streams),
                "WATCHDOG_FEED_TIMEOUT_SECONDS": "1",
                "RESTART_BACKOFF_SECONDS": "30",  # one controlled stop is enough to see
            },
        )
        SecretStore(BotHome(str(paths.root))).set("broker_alpaca", {"api_key": API_KEY, "secret_key": SECRET_KEY})
        paths.vix_file.write_text(f"timestamp_utc,vix\n{iso_z()},18.2\n")
        proc = start_core(paths)
        try:
            streams.wait_until("the core's data stream subscribed", lambda s: s.subscribed("SPY"), timeout=30)
            streams.refusing = True
            streams.drop_connections()
            down = wait_for(lambda: audit_events(paths, "market_data_down"), "the watchdog calling market data down")
            assert "alpaca data stream: not connected" in down[0][2]["cause"]
            stop = wait_for(lambda: audit_events(paths, "controlled_stop"), "the controlled stop")
            assert stop[0][2]["matrix_row"] == "feed_down" and stop[0][2]["restart"] is True
        finally:
            stop_core(proc)
