"""Keys of ``build_check``: none, it is always on and validates the others' keys instead."""

from __future__ import annotations

from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = ()
