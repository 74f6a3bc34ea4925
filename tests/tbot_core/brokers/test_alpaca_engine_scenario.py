"""Issue #7 scenario: a real ``tbot core`` with BROKER=alpaca against the fake Alpaca on 127.0.0.1
trades and books the broker's fills into the ledger itself (read back through the adapter), so a
later ``tbot ledger sync --from-broker`` finds every fitid known and ``tbot ledger check`` passes.

Everything an operator would do goes through the real CLI: init, the ``broker_alpaca`` secret,
``tbot config set``, ``tbot core``, ``tbot control stop``, ``tbot ledger sync`` and ``check``.
The core runs its production feed for BROKER=alpaca: the live poller of
``tbot_core.data.alpaca`` over alpaca-py's data client.  That poller only yields bars whose
minute has ended (``ts + 1 min <= now``) and starts one minute back, so the fake serves bars
one second apart around the test's start: the first poll that sees a completed "minute"
yields within a second instead of after up to a minute.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import apsw

from tbot_core.paths import HomePaths
from tbot_core.timeutil import iso_z
from tests.conftest import run_tbot
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca
from tests.tbot_core.runtime.core_harness import start_core, state, stop_core, wait_for

SYMBOLS = ("SPY", "AAPL")
BAR_SPAN_SECONDS = 180  # bars from 2 minutes before the test to 1 minute after it


def _serve_recent_bars(fake: FakeAlpaca) -> None:
    """Flat bars at the prices the fake fills at, so marking to them moves no PnL."""
    fake.state.bars_page_size = 10_000  # paging is covered in test_alpaca.py; one page per poll here
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=120)
    for symbol in SYMBOLS:
        price = float(fake.state.prices[symbol])
        fake.state.bars[symbol] = [
            {
                "t": (start + timedelta(seconds=i)).strftime("%Y-%m-%dT%H:%M:%SZ"),
                "o": price,
                "h": price,
                "l": price,
                "c": price,
                "v": 1000,
                "n": 10,
                "vw": price,
            }
            for i in range(BAR_SPAN_SECONDS)
        ]


def _tbot_ok(*args: str, home: Path, input: str | None = None) -> str:
    result = run_tbot(*args, home=home, input=input)
    assert result.returncode == 0, f"tbot {' '.join(args[:3])}: {result.stdout}{result.stderr}"
    return result.stdout


def _configure(home: Path, fake: FakeAlpaca) -> HomePaths:
    _tbot_ok("init", home=home)
    _tbot_ok(
        "secrets",
        "set",
        "broker_alpaca",
        "--stdin",
        home=home,
        input=json.dumps({"api_key": API_KEY, "secret_key": SECRET_KEY}),
    )
    # Only what the scenario needs (each `config set` is a key rotation): the broker, its endpoints,
    # a universe the fake knows, a quick poll, and the mid chain's two
    # indicator filters off (one or two bars per symbol never warm them up; they would block).
    settings = {
        "BROKER": "alpaca",
        "ALPACA_URL_OVERRIDE": fake.url,
        "ALPACA_DATA_URL_OVERRIDE": fake.url,
        "SYMBOLS": ",".join(SYMBOLS),
        "LIVE_BAR_POLL_SECONDS": "0.2",
        "ALPACA_FEED_MODE": "poll",  # the REST fallback; the streamed feed has its own scenario (test_alpaca_stream_core.py)
        "ADX_FILTER_ENABLED": "false",
        "BOLLINGER_CONFLUENCE_ENABLED": "false",
        # Alpaca has no index data: the close strategy's VIX comes from the home's file (else no start).
        "VIX_SOURCE": "file",
    }
    for key, value in settings.items():
        _tbot_ok("config", "set", key, value, home=home)
    paths = HomePaths(home)
    paths.vix_file.write_text(f"timestamp_utc,vix\n{iso_z()},18.2\n")
    assert not paths.plaintext_env.exists()  # everything above lives in the encrypted config
    return paths


def _ledger_fills(paths: HomePaths) -> list[tuple[str, str, str, str]]:
    """(fitid, kind, broker_code, symbol) of every ledger group booked from a broker activity."""
    conn = apsw.Connection(str(paths.ledger_db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return sorted(conn.execute("SELECT fitid, kind, broker_code, symbol FROM groups WHERE fitid IS NOT NULL"))
    finally:
        conn.close()


def test_alpaca_core_places_an_order_and_its_fills_sync_into_a_ledger_that_checks_clean(tmp_path: Path) -> None:
    home = tmp_path / "home"
    with FakeAlpaca() as fake:
        _serve_recent_bars(fake)
        paths = _configure(home, fake)
        proc = start_core(paths, scripted_signal_every=1)
        try:
            orders = wait_for(
                lambda: fake.count("POST", "/v2/orders") and state(paths).get("orders"),
                "an order POSTed to the fake Alpaca and shown in state.json",
            )
            _tbot_ok("control", "stop", "--reason", "scenario done", home=home)
            assert proc.wait(20) == 0, proc.stderr.read() if proc.stderr else ""
        finally:
            stop_core(proc)
        assert state(paths)["mode"] == "stopped"

        posted = {o["id"]: o for o in fake.state.orders.values()}
        assert {o["order_id"] for o in orders} <= set(posted)
        assert all(o["status"] == "filled" and o["symbol"] in SYMBOLS for o in orders)
        assert {o["client_order_id"] for o in posted.values()} >= {
            f"mid-{o['symbol']}-{o['side']}-{o['bar_utc']}" for o in orders
        }
        fills = [a for a in fake.state.activities if a["activity_type"] == "FILL"]
        assert {a["order_id"] for a in fills} == set(posted)

        booked = _ledger_fills(paths)  # the engine booked them before it stopped
        assert booked == sorted((a["id"], "FILL", "ALPACA", a["symbol"]) for a in fills)
        again = _tbot_ok("ledger", "sync", "--broker", "alpaca", "--from-broker", home=home)
        assert f"skipped {len(fills)} already known" in again and "posted 0 activities" in again, again
        assert _ledger_fills(paths) == booked

        check = _tbot_ok("ledger", "check", home=home)
        assert "ledger check passed" in check, check
    leaked = [f for f in home.rglob("*") if f.is_file() and SECRET_KEY.encode() in f.read_bytes()]
    assert leaked == []  # the key reached the core only through the vault, and no log, db or state file kept it
