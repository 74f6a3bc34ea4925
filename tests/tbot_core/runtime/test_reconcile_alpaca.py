"""BROKER=alpaca in-process, all on 127.0.0.1: the real alpaca-py REST, data-stream and trading-stream clients.

A position opened by hand at Alpaca blocks the engine's entries from its
start until it is acknowledged; then an entry goes out, and when the fake
fills it later, the trade update makes the engine read the fill and book it
at the next bar, not at the next periodic sync (30 s).
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import apsw
import pytest

from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.fakes.alpaca_stream_server import FakeAlpacaStream
from tests.tbot_core.runtime.core_harness import audit_events, make_home, wait_for
from tests.tbot_core.runtime.engine_kit import build_engine

T0 = datetime(2026, 1, 5, 14, 31, tzinfo=UTC)


@pytest.fixture
def servers() -> Iterator[tuple[FakeAlpaca, FakeAlpacaStream]]:
    with FakeAlpaca() as rest, FakeAlpacaStream() as streams:
        rest.state.fill_listeners.append(lambda order: streams.push_trade_update("fill", order))
        yield rest, streams


def _booked_fitids(ledger_db) -> list[str]:
    conn = apsw.Connection(str(ledger_db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return [row[0] for row in conn.execute("SELECT fitid FROM groups WHERE kind = 'FILL'")]
    finally:
        conn.close()


def test_a_position_opened_by_hand_blocks_entries_until_acknowledged_then_a_fill_is_booked_at_the_next_bar(
    tmp_path, servers
) -> None:
    rest, streams = servers
    rest.state.positions["AAPL"] = (Decimal(10), Decimal("180.00"))  # bought in Alpaca's web page
    rest.state.hold_orders = True  # orders fill when the test says so
    paths = make_home(tmp_path, {})
    SecretStore(BotHome(str(paths.root))).set("broker_alpaca", {"api_key": API_KEY, "secret_key": SECRET_KEY})
    engine, _store, _kill, ctx = build_engine(
        paths.root,
        1,
        BROKER="alpaca",
        SYMBOLS="SPY,AAPL",
        ALPACA_URL_OVERRIDE=rest.url,
        ALPACA_DATA_URL_OVERRIDE=rest.url,
        ALPACA_DATA_STREAM_URL_OVERRIDE=streams.data_url,
        ALPACA_TRADING_STREAM_URL_OVERRIDE=streams.trading_url,
    )
    thread = threading.Thread(target=engine.run, daemon=True)
    thread.start()
    minute = iter(range(1000))

    def bar(symbol: str) -> None:
        price = float(rest.state.prices[symbol])
        streams.push_bar(symbol, T0 + timedelta(minutes=next(minute)), price=price, spread=0)

    try:
        streams.wait_until("the data stream subscribed", lambda s: s.subscribed("SPY"))
        (row,) = wait_for(lambda: audit_events(paths, "broker_mismatch"), "the mismatch found at start")
        assert row[2]["mismatches"][0]["symbol"] == "AAPL" and row[2]["mismatches"][0]["broker_qty"] == "10"
        bar("SPY")  # the scripted strategy's entry: refused
        blocked = wait_for(lambda: [v for v in engine.view.verdicts if v.symbol == "SPY"], "the SPY verdict")
        assert blocked[0].module == "engine" and not blocked[0].allow and "broker mismatch" in blocked[0].reason
        assert rest.count("POST", "/v2/orders") == 0

        assert engine.control.mismatch.acknowledge("ops", "AAPL is mine", ctx.audit).startswith("acknowledged")
        bar("SPY")  # the strategy's "sell" of what it never held: nothing
        bar("SPY")  # an entry again: allowed now
        wait_for(lambda: rest.count("POST", "/v2/orders") == 1, "the entry POSTed")
        (order_id,) = rest.state.orders
        assert engine.view.orders[0].status == "accepted" and "SPY" not in engine.portfolio.positions

        streams.wait_until("the trade updates listener", lambda s: s.listening())
        rest.fill_held(order_id)  # Alpaca fills it; the trade update goes out on the stream
        fitid = next(a["id"] for a in rest.state.activities if a.get("order_id") == order_id)
        updates = engine.broker.updates
        wait_for(lambda: ("fill", order_id, "SPY") in updates.recent, "the trade update heard")  # before the bar
        bar("AAPL")  # the next bar: the engine reads the fills before it
        wait_for(lambda: fitid in _booked_fitids(paths.ledger_db), "the fill booked in the ledger")
        wait_for(lambda: any(p.symbol == "SPY" for p in engine.view.positions), "the SPY position shown")
    finally:
        engine.control.stop.set()
        engine.feed.close()
        thread.join(10)
        if engine.broker.updates is not None:
            engine.broker.updates.close()
    assert not thread.is_alive()
    assert len(audit_events(paths, "broker_mismatch")) == 1
    assert audit_events(paths, "broker_mismatch_acknowledged")[0][2]["operator"] == "ops"
