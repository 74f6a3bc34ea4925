"""Keys of ``adx_filter``; ADX_PERIOD also sizes the ADX and ATR the strategies compute, so they agree."""

from __future__ import annotations

from decimal import Decimal

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("ADX_FILTER_ENABLED", True, t.boolean, "adx_filter: block mid-session entries in strong trends"),
    Key("ADX_THRESHOLD", Decimal("25"), t.decimal(0, 100), "adx_filter blocks when ADX > this"),
    Key("ADX_PERIOD", 14, t.integer(2, 500), "ADX lookback in bars (Wilder)"),
    # Default false: the filter refines a signal from the core's own bars; when it fails the strategy's own rules,
    # risk_bot and the kill switch still judge the trade (the seed's "default to core logic").
    Key(
        "ADX_FILTER_FATAL",
        False,
        t.boolean,
        "true: an adx_filter failure blocks the trade; false: audited, skipped, core logic decides",
    ),
)
