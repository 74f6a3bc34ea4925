"""Keys of ``finnhub_fundamental_guard``; its API key is the screener_api secret, never a config key."""

from __future__ import annotations

from decimal import Decimal

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("FUNDAMENTAL_GUARD_ENABLED", False, t.boolean, "finnhub_fundamental_guard (needs the screener_api secret)"),
    Key("MAX_PE_RATIO", Decimal("50"), t.decimal(0), "Block when peNormalizedAnnual exceeds this"),
    Key("MAX_DEBT_EQUITY", Decimal("2.5"), t.decimal(0), "Block when totalDebt/totalEquityAnnual exceeds this"),
    Key("MIN_MARKET_CAP_FUNDAMENTAL", Decimal("2000000000"), t.decimal(0), "Block below this market cap in USD"),
    Key("FINNHUB_API_URL", "", t.text(200), "Override the Finnhub API base URL (tests, proxies); empty = default"),
    # Default true (fail closed): the guard is off unless the operator turns it on to keep weak companies out;
    # while Finnhub is down every ticker's fundamentals are unknown, which is exactly what the guard exists to
    # refuse.  Set false to trade on core logic during an outage (each failure is still audited).
    Key(
        "FUNDAMENTAL_GUARD_FATAL",
        True,
        t.boolean,
        "true: Finnhub down blocks entries (fundamentals unknown); false: skipped, core logic decides",
    ),
)
