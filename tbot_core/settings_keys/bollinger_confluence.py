"""Keys of ``bollinger_confluence``; the mid strategy measures its stretch over the same BOLLINGER_PERIOD."""

from __future__ import annotations

from decimal import Decimal

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("BOLLINGER_CONFLUENCE_ENABLED", True, t.boolean, "bollinger_confluence: require a +-N sigma band touch"),
    Key("BOLLINGER_PERIOD", 20, t.integer(2, 500), "Bollinger lookback in bars"),
    Key("BOLLINGER_NUM_STD", Decimal("2.0"), t.decimal("0.1", 10), "Band width in population standard deviations"),
    # Default false: a signal-quality filter over the core's own bars; when it fails the strategy's own rules,
    # risk_bot and the kill switch still judge the trade (the seed's "default to core logic").
    Key(
        "BOLLINGER_CONFLUENCE_FATAL",
        False,
        t.boolean,
        "true: a bollinger_confluence failure blocks the trade; false: audited, skipped, core logic",
    ),
)
