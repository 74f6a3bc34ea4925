"""Keys of ``vix_gatekeeper``; the threshold keeps its seed name STRAT_CLOSE_VIX_THRESHOLD for existing homes."""

from __future__ import annotations

from decimal import Decimal

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("VIX_GATEKEEPER_ENABLED", True, t.boolean, "vix_gatekeeper: close-strategy entries need VIX >= threshold"),
    Key("STRAT_CLOSE_VIX_THRESHOLD", Decimal("15"), t.decimal(0, 200), "Minimum VIX for close-strategy entries"),
    # Default true (fail closed): the close strategy requires VIX >= threshold for an entry; with VIX missing or
    # garbled that requirement cannot be shown to hold, so the entry is blocked.
    Key(
        "VIX_GATEKEEPER_FATAL",
        True,
        t.boolean,
        "true: VIX missing or bad blocks close entries (floor unproven); false: skipped, core logic",
    ),
)
