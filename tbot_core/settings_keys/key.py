"""One ``.env_bot`` key as its owner declares it.

The parser carries the type and the range check, so a key is read the same
way wherever it is declared; the doc travels with it so ``tbot config show
--docs`` and the console's config screen describe it with one text.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tbot_core.config_types import Parser


# eq=False: a key is one declaration, compared by identity; and a dict default must not make it unhashable.
@dataclass(frozen=True, eq=False)
class Key:
    name: str  # as written in .env_bot, e.g. ADX_THRESHOLD; the Settings attribute is its lower case
    default: Any
    parse: Parser
    doc: str
    # Shown as *** by `tbot config show` and in state.json (names that look secret are redacted anyway).
    secret: bool = False

    def __post_init__(self) -> None:
        if not self.name.isidentifier() or self.name != self.name.upper():
            raise ValueError(f"key name {self.name!r}: expected an upper-case identifier like ADX_THRESHOLD")

    @property
    def attr(self) -> str:
        return self.name.lower()

    def fresh_default(self) -> Any:
        """A copy of a mutable default (the rate table), so no two Settings share one dict."""
        return dict(self.default) if isinstance(self.default, dict) else self.default
