"""BROKER=alpaca through a real bot home: keys from the encrypted secret, endpoints from config, fills into the ledger."""

from __future__ import annotations

from collections.abc import Iterator
from decimal import Decimal

import pytest

from tbot_core.brokers.alpaca import AlpacaBroker
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.factory import make_broker
from tbot_core.config import Settings
from tbot_core.data.alpaca import AlpacaFeed
from tbot_core.data.factory import make_feed
from tbot_core.errors import SecurityError, TbotError
from tbot_core.home import BotHome
from tbot_core.ledger.sync import ingest_activities
from tbot_core.secrets.store import SecretStore
from tests.fakes.alpaca_server import API_KEY, SECRET_KEY, FakeAlpaca


@pytest.fixture
def fake() -> Iterator[FakeAlpaca]:
    with FakeAlpaca() as server:
        yield server


def _settings(home: BotHome, fake: FakeAlpaca) -> Settings:
    return home.settings.with_values(
        {"BROKER": "alpaca", "ALPACA_URL_OVERRIDE": fake.url, "ALPACA_DATA_URL_OVERRIDE": fake.url}
    )


def test_without_the_broker_alpaca_secret_the_adapter_refuses_to_start(bot_home: BotHome, fake: FakeAlpaca) -> None:
    with pytest.raises(TbotError) as caught:
        make_broker(bot_home, _settings(bot_home, fake))
    assert isinstance(caught.value, SecurityError) and "broker_alpaca" in str(caught.value)
    assert fake.requests == []


def test_factory_builds_alpaca_from_the_secret_and_fills_reach_the_ledger_once(
    bot_home: BotHome, fake: FakeAlpaca
) -> None:
    SecretStore(bot_home).set("broker_alpaca", {"api_key": API_KEY, "secret_key": SECRET_KEY})
    settings = _settings(bot_home, fake)
    broker = make_broker(bot_home, settings)
    assert isinstance(broker, AlpacaBroker) and isinstance(make_feed(bot_home, settings), AlpacaFeed)
    broker.submit_order(OrderRequest("c-1", "AAPL", "buy", Decimal("4"), "open"))
    broker.submit_order(OrderRequest("c-2", "AAPL", "sell", Decimal("1"), "close"))
    fake.add_activity("DIV", "0.96", day="2099-01-02", symbol="AAPL")

    activities = broker.fetch_activities(None)
    assert [a.type for a in activities] == ["FILL", "FILL", "DIVIDEND"]
    first = ingest_activities(
        bot_home.paths.ledger_db,
        broker.code,
        activities,
        sync_run_id="alpaca-1",
        caller="system",
        audit=bot_home.audit(),
    )
    assert (first.commit_state, first.posted) == ("committed", 3)
    again = ingest_activities(
        bot_home.paths.ledger_db,
        broker.code,
        broker.fetch_activities(None),
        sync_run_id="alpaca-2",
        caller="system",
        audit=bot_home.audit(),
    )
    assert (again.posted, again.skipped_known) == (0, 3)
