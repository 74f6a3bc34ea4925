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
)
