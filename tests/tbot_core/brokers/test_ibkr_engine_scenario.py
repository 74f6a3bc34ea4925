"""Issue #17 scenario: a real ``tbot core`` with BROKER=ibkr against the local IB gateway.

The core runs its production parts for IBKR: ``IbkrBroker`` and the live
``IbkrFeed`` (minute bars polled with ``reqHistoricalData``), both over ib_async
on their own client ids.  A scripted strategy (the one test fake, passed through
``tests.fakes.core_main``) signals on every bar; the orders fill at the gateway,
and the engine books the executions in the ledger itself (fitid = execId, fee =
commission), so a later ``tbot ledger sync --from-broker --broker IBKR`` adds
nothing and ``tbot ledger check`` passes.  Then IB's 1100 "connectivity lost"
suspends the broker (matrix row, audit) and 1102 resumes it.

The live poller only yields bars whose minute has ended and starts one minute
back, so the gateway serves bars one second apart around the test's start, as the
Alpaca scenario does.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import apsw

from tbot_core.home import BotHome
from tbot_core.paths import HomePaths
from tbot_core.secrets.store import SecretStore
from tests.conftest import run_tbot
from tests.fakes.ib_gateway import ACCOUNT, IbGateway
from tests.tbot_core.runtime.core_harness import (
    audit_events,
    make_home,
    matrix_row,
    start_core,
    state,
    stop_core,
    wait_for,
)

SYMBOLS = ("SPY", "AAPL")


def _serve_recent_bars(gw: IbGateway) -> None:
    """Flat bars at the prices the gateway fills at (marking to them moves no PnL), and a VIX level."""
    start = datetime.now(UTC).replace(microsecond=0) - timedelta(seconds=120)
    for symbol in SYMBOLS:
        gw.add_bars(symbol, start, 180, price=gw.state.prices[symbol], step=timedelta(seconds=1))
    gw.add_bars("VIX", start, 180, price="18.2", step=timedelta(seconds=1))


def _home(tmp_path: Path, gw: IbGateway) -> HomePaths:
    env = {
        "BROKER": "ibkr",
        "SYMBOLS": ",".join(SYMBOLS),
        "LIVE_BAR_POLL_SECONDS": "0.2",
        "ADX_FILTER_ENABLED": "false",
        "BOLLINGER_CONFLUENCE_ENABLED": "false",
        "WATCHDOG_BROKER_TIMEOUT_SECONDS": "0.5",
        "WATCHDOG_FEED_TIMEOUT_SECONDS": "120",  # 1100 silences the feed's heartbeat too; only the broker is tested
    }
    paths = make_home(tmp_path, env, bars=0, symbols=SYMBOLS)
    SecretStore(BotHome(str(paths.root))).set(
        "broker_ibkr", {"account": ACCOUNT, "host": "127.0.0.1", "port": str(gw.port), "client_id": "21"}
    )
    return paths


def _booked(paths: HomePaths) -> list[tuple[str, str, str]]:
    if not paths.ledger_db.exists():
        return []
    conn = apsw.Connection(str(paths.ledger_db), flags=apsw.SQLITE_OPEN_READONLY)
    conn.setbusytimeout(10_000)  # the core may be writing right now
    try:
        return sorted(conn.execute("SELECT fitid, broker_code, symbol FROM groups WHERE fitid IS NOT NULL"))
    finally:
        conn.close()


def _tbot_ok(*args: str, home: Path) -> str:
    result = run_tbot(*args, home=home)
    assert result.returncode == 0, f"tbot {' '.join(args[:3])}: {result.stdout}{result.stderr}"
    return result.stdout


def test_ibkr_core_trades_books_its_fills_and_is_suspended_by_1100_until_1102(tmp_path: Path) -> None:
    with IbGateway() as gw:
        _serve_recent_bars(gw)
        paths = _home(tmp_path, gw)
        proc = start_core(paths, scripted_signal_every=1)
        try:
            wait_for(lambda: gw.state.executions and _booked(paths), "a fill at the gateway booked by the core", 60)
            assert sorted(gw.clients()) == [21, 22]  # the broker and the feed, each on its own client id
            gw.send_error(1100)
            wait_for(lambda: audit_events(paths, "broker_suspended"), "the broker suspended on 1100", 30)
            wait_for(lambda: matrix_row(paths, "broker_down")["state"] == "triggered", "the broker_down row in state")
            gw.send_error(1102)
            wait_for(lambda: audit_events(paths, "broker_resumed"), "the broker resumed on 1102", 30)
            wait_for(lambda: matrix_row(paths, "broker_down")["state"] != "triggered", "the broker_down row cleared")
            _tbot_ok("control", "stop", "--reason", "scenario done", home=paths.root)
            assert proc.wait(30) == 0, proc.stderr.read() if proc.stderr else ""
        finally:
            stop_core(proc)
        assert state(paths)["mode"] == "stopped"
        [(_, _, suspended)] = audit_events(paths, "broker_suspended")
        assert "IB error 1100" in suspended["cause"]

        executions = gw.state.executions
        booked = _booked(paths)
        assert booked == sorted((e.exec_id, "IBKR", e.order.symbol) for e in executions)
        assert all(e.order.order_ref.startswith("mid|mid-") for e in executions)
        again = _tbot_ok("ledger", "sync", "--from-broker", "--broker", "IBKR", home=paths.root)
        assert "posted 0 activities" in again or "nothing added" in again, again
        assert _booked(paths) == booked
        check = _tbot_ok("ledger", "check", home=paths.root)
        assert "ledger check passed" in check, check
