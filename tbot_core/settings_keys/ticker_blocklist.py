"""Keys of ``ticker_blocklist``: only its fixed fatal flag; one trade per ticker per session is not negotiable."""

from __future__ import annotations

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    # Fixed true: the blocklist is a safety rule (always on in the seed); if it cannot read or save
    # run/session.json it cannot prove a ticker unused, so the trade is blocked.
    Key(
        "TICKER_BLOCKLIST_FATAL",
        True,
        t.always_true("a ticker blocklist that cannot read or save its session file must block"),
        "always true: a ticker_blocklist failure (session file I/O) blocks the trade",
    ),
)
