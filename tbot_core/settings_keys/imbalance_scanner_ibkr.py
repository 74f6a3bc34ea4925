"""Keys of ``imbalance_scanner_ibkr``; the window must end after it starts (checked with the whole config)."""

from __future__ import annotations

from decimal import Decimal

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("IMBALANCE_SCANNER_ENABLED", True, t.boolean, "imbalance_scanner_ibkr (active only when BROKER=ibkr)"),
    Key(
        "IMBALANCE_WINDOW_START_UTC",
        t.clock_time("20:30"),
        t.clock_time,
        "Imbalance window start (winter default; DST-aware at run time)",
    ),
    Key("IMBALANCE_WINDOW_END_UTC", t.clock_time("21:00"), t.clock_time, "Imbalance window end (winter default)"),
    Key(
        "IMBALANCE_BLOCK_RATIO",
        Decimal("0.25"),
        t.decimal(0, 10),
        "Block when opposing imbalance / paired volume exceeds this",
    ),
    # Default true (fail closed): it only needs data inside the 30-minute close window, where an unseen opposing
    # auction imbalance is the risk it guards; missing or stale IBKR imbalance data there blocks the entry.
    Key(
        "IMBALANCE_SCANNER_FATAL",
        True,
        t.boolean,
        "true: no/stale imbalance data in the window blocks close entries; false: skipped, core logic",
    ),
)
