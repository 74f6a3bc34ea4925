"""Keys of ``build_check``: only its fixed fatal flag; it is always on and validates the others' keys instead."""

from __future__ import annotations

from tbot_core import config_types as t
from tbot_core.settings_keys.key import Key

KEYS: tuple[Key, ...] = (
    # Fixed true: the seed says the bot halts when build_check fails; listed so the config shows the rule.
    Key(
        "BUILD_CHECK_FATAL",
        True,
        t.always_true("the seed halts launch when build_check fails"),
        "always true: a build_check failure blocks launch (seed)",
    ),
)
