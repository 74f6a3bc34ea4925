"""Keys of ``ticker_blocklist``: none, one trade per ticker per session is not negotiable."""

from __future__ import annotations

from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = ()
