"""`tbot ledger sync --broker alpaca --from-broker` (real CLI subprocess) books the fake Alpaca's activities once."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from tbot_core.brokers.alpaca import AlpacaBroker
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.pull import parse_since
from tbot_core.errors import ConfigError
from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore
from tests.conftest import run_tbot
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


@pytest.fixture
def alpaca_home(bot_home: BotHome, fake: FakeAlpaca) -> BotHome:
    SecretStore(bot_home).set("broker_alpaca", {"api_key": API_KEY, "secret_key": SECRET_KEY})
    bot_home.paths.plaintext_env.write_text(f"ALPACA_URL_OVERRIDE={fake.url}\nALPACA_DATA_URL_OVERRIDE={fake.url}\n")
    return bot_home


def test_pulled_activities_are_booked_once_and_the_ledger_checks_clean(alpaca_home: BotHome, fake: FakeAlpaca) -> None:
    broker = AlpacaBroker.from_home(alpaca_home, alpaca_home.settings)
    broker.submit_order(OrderRequest("c-1", "SPY", "buy", Decimal("3"), "open"))
    fake.add_activity("FEE", "-0.02", day="2099-01-05")
    root = alpaca_home.paths.root

    first = run_tbot("ledger", "sync", "--broker", "alpaca", "--from-broker", "--since", "2020-01-01", home=root)
    assert first.returncode == 0, first.stderr
    assert "posted 2 activities" in first.stdout
    again = run_tbot("ledger", "sync", "--broker", "alpaca", "--from-broker", "--since", "2020-01-01", home=root)
    assert again.returncode == 0 and "nothing added" in again.stdout
    check = run_tbot("ledger", "check", home=root)
    assert check.returncode == 0 and "ledger check passed" in check.stdout, check.stdout
    assert SECRET_KEY not in first.stdout + first.stderr + check.stdout


def test_refused_keys_stop_the_sync_with_one_line_and_no_rows(alpaca_home: BotHome, fake: FakeAlpaca) -> None:
    fake.fail("/v2/account/activities", 401)
    result = run_tbot("ledger", "sync", "--broker", "alpaca", "--from-broker", home=alpaca_home.paths.root)
    assert result.returncode != 0
    assert (
        result.stderr.startswith("error: alpaca paper account activities: HTTP 401")
        and "Traceback" not in result.stderr
    )


def test_paper_cannot_be_pulled_and_since_must_be_utc(alpaca_home: BotHome) -> None:
    result = run_tbot("ledger", "sync", "--broker", "paper", "--from-broker", home=alpaca_home.paths.root)
    assert result.returncode != 0 and "--from-broker works with alpaca or ibkr" in result.stderr
    with pytest.raises(ConfigError, match="add Z or an offset"):
        parse_since("2025-01-02T10:00:00")
    assert parse_since("2025-01-02").isoformat() == "2025-01-02T00:00:00+00:00"
