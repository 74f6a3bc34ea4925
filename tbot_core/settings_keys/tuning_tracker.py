"""Keys of ``tuning_tracker``: its switch and its fatal flag; where the summary goes follows from the identity."""

from __future__ import annotations

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("TUNING_TRACKER_ENABLED", True, t.boolean, "tuning_tracker: per-strategy stats for the console"),
    # Default false: the tracker only counts decisions and PnL for tuning; it judges no trade, so a failure in
    # it is audited and trading goes on.
    Key(
        "TUNING_TRACKER_FATAL",
        False,
        t.boolean,
        "true: a tuning_tracker failure blocks the trade; false: audited, stats skipped, trading goes on",
    ),
)
