"""Keys of ``tuning_tracker``: only its switch; where the summary goes follows from the identity."""

from __future__ import annotations

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    Key("TUNING_TRACKER_ENABLED", True, t.boolean, "tuning_tracker: per-strategy stats for the console"),
)
