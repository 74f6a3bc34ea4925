"""`tbot ledger sync --from-broker --broker IBKR` (real CLI subprocess) books the gateway's executions once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import apsw
import pytest

from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.ibkr import IbkrBroker
from tbot_core.brokers.ibkr_session import IbkrEndpoint
from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore
from tests.conftest import run_tbot
from tests.fakes.ib_gateway import ACCOUNT, IbGateway


@pytest.fixture
def gw() -> Iterator[IbGateway]:
    with IbGateway() as gateway:
        yield gateway


@pytest.fixture
def ibkr_home(bot_home: BotHome, gw: IbGateway) -> BotHome:
    SecretStore(bot_home).set(
        "broker_ibkr", {"account": ACCOUNT, "host": "127.0.0.1", "port": str(gw.port), "client_id": "7"}
    )
    return bot_home


def test_pulled_executions_are_booked_once_with_commissions_and_the_ledger_checks_clean(
    ibkr_home: BotHome, gw: IbGateway
) -> None:
    trader = IbkrBroker(
        IbkrEndpoint("127.0.0.1", gw.port, client_id=1, account=ACCOUNT, connect_timeout=10, request_timeout=10)
    )
    try:
        trader.submit_order(OrderRequest("c-1", "SPY", "buy", Decimal(3), "open"))
        trader.submit_order(OrderRequest("c-2", "SPY", "sell", Decimal(1), "open"))
    finally:
        trader.close()
    root = ibkr_home.paths.root

    first = run_tbot("ledger", "sync", "--from-broker", "--broker", "IBKR", home=root)
    assert first.returncode == 0, first.stderr
    assert "posted 2 activities" in first.stdout, first.stdout
    again = run_tbot("ledger", "sync", "--from-broker", "--broker", "IBKR", home=root)
    assert again.returncode == 0 and "nothing added" in again.stdout, again.stdout + again.stderr
    check = run_tbot("ledger", "check", home=root)
    assert check.returncode == 0 and "ledger check passed" in check.stdout, check.stdout

    conn = apsw.Connection(str(ibkr_home.paths.ledger_db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        booked = sorted(conn.execute("SELECT fitid, broker_code, symbol FROM groups WHERE fitid IS NOT NULL"))
    finally:
        conn.close()
    assert booked == sorted((e.exec_id, "IBKR", "SPY") for e in gw.state.executions)
    assert ACCOUNT not in first.stdout + first.stderr  # the account number is a registered secret


def test_a_gateway_that_is_not_running_stops_the_sync_with_one_line_and_no_rows(
    ibkr_home: BotHome, gw: IbGateway
) -> None:
    gw.close()
    result = run_tbot("ledger", "sync", "--from-broker", "--broker", "ibkr", home=ibkr_home.paths.root)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    [line] = result.stderr.splitlines()  # ib_async's own log lines stay out of it
    assert line.startswith("error: ibkr connect ") and f":{gw.port}: connection refused; heartbeat failed" in line
