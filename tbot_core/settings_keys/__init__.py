"""Every ``.env_bot`` key, declared by its owner: one module per enhancement, plus ``core``.

The keys live here, not in ``tbot_core.enhancements``, because the config
layer (and through it the console's config screen) must know them without
importing the enhancements and the indicators under them.  Each enhancement
class points at its module's ``KEYS``; ``tests/tbot_core/test_settings_keys.py``
holds the two lists, and what each module reads, to each other; ``tbot_core.config``
composes ``Settings`` from ``core`` and this registry.

The registry is written out, not found by scanning the folder, so a key
module exists for the config exactly when it is listed here.
"""

from __future__ import annotations

from collections.abc import Mapping

from tbot_core.settings_keys import (
    adx_filter,
    black_scholes_filter,
    bollinger_confluence,
    build_check,
    finnhub_fundamental_guard,
    imbalance_scanner_ibkr,
    ticker_blocklist,
    tuning_tracker,
    vix_gatekeeper,
)
from tbot_core.settings_keys.key import Key

# Enhancement name -> its keys; this order is the order `tbot config show` and the console list them in.
ENHANCEMENT_KEYS: Mapping[str, tuple[Key, ...]] = {
    "adx_filter": adx_filter.KEYS,
    "black_scholes_filter": black_scholes_filter.KEYS,
    "bollinger_confluence": bollinger_confluence.KEYS,
    "build_check": build_check.KEYS,
    "finnhub_fundamental_guard": finnhub_fundamental_guard.KEYS,
    "imbalance_scanner_ibkr": imbalance_scanner_ibkr.KEYS,
    "ticker_blocklist": ticker_blocklist.KEYS,
    "tuning_tracker": tuning_tracker.KEYS,
    "vix_gatekeeper": vix_gatekeeper.KEYS,
}

__all__ = ["ENHANCEMENT_KEYS", "Key"]
