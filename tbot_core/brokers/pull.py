"""``tbot ledger sync --from-broker``: pull activities through a broker adapter.

The run id is derived from the fitids pulled, so pulling the same activities
twice names the same run and the ledger's idempotent sync adds nothing.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

from tbot_core.errors import ConfigError

if TYPE_CHECKING:
    from tbot_core.home import BotHome
    from tbot_core.ledger.activity import Activity

PULLABLE = ("alpaca", "ibkr")


def parse_since(text: str | None) -> datetime | None:
    """``YYYY-MM-DD`` (midnight UTC) or an ISO 8601 time with an offset."""
    if not text:
        return None
    try:
        if len(text) == 10:
            return datetime.combine(date.fromisoformat(text), datetime.min.time(), tzinfo=UTC)
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise ConfigError(f"--since {text[:40]!r}: expected YYYY-MM-DD or an ISO 8601 time with Z") from None
    if moment.tzinfo is None:
        raise ConfigError(f"--since {text[:40]!r}: add Z or an offset; every time in TradeBot is UTC")
    return moment.astimezone(UTC)


def pull_activities(home: BotHome, broker_code: str, since_text: str | None) -> tuple[list[Activity], str]:
    """The broker's activities after ``since`` and the run id that names exactly them."""
    name = broker_code.strip().lower()
    if name not in PULLABLE:
        raise ConfigError(
            f"--broker {broker_code}: --from-broker works with {' or '.join(PULLABLE)}",
            hint="paper fills reach the ledger from the engine itself",
        )
    since = parse_since(since_text)
    settings = home.settings.with_values({"BROKER": name})
    if name == "alpaca":
        from tbot_core.brokers.alpaca import AlpacaBroker

        activities = AlpacaBroker.from_home(home, settings).fetch_activities(since)
    else:
        from tbot_core.brokers.ibkr import IbkrBroker

        broker = IbkrBroker.from_home(home, settings)
        try:
            activities = broker.fetch_activities(since)
        finally:
            broker.close()
    digest = hashlib.sha256("\x1f".join([name, *sorted(a.fitid for a in activities)]).encode()).hexdigest()[:24]
    return activities, f"broker-{name}-{digest}"
