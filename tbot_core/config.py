"""The ``.env_bot`` schema, composed from the keys their owners declare in ``tbot_core.settings_keys``.

The settings object is frozen so no module can flip a toggle at run time;
changes go through ``tbot config set`` (validated, re-encrypted, audited).
Parsing is strict on purpose: an unknown key or a malformed line is an error
that names the line, because a silently ignored typo in a risk limit is how
accounts get hurt.
"""

from __future__ import annotations

import difflib
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import Field, dataclass, field, replace
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from tbot_core import config_types as t
from tbot_core.errors import ConfigError
from tbot_core.sanitize import REDACTED, looks_secret, shape
from tbot_core.settings_keys import ENHANCEMENT_KEYS, Key, core

# Run identity first, then each enhancement's keys in ENHANCEMENT_KEYS order, then the rest of the core's:
# the order of the .env_bot `tbot init` writes, of `tbot config show` and of the console's config screen.
KEY_TABLE: tuple[Key, ...] = (
    *core.RUN,
    *(key for keys in ENHANCEMENT_KEYS.values() for key in keys),
    *core.KEYS,
)
_KEYS: dict[str, Key] = {key.name: key for key in KEY_TABLE}
if len(_KEYS) != len(KEY_TABLE):  # a second declaration would silently replace the first one's parser and default
    _twice = sorted(name for name, n in Counter(key.name for key in KEY_TABLE).items() if n > 1)
    raise RuntimeError(f"config keys declared twice: {', '.join(_twice)}")
KNOWN_KEYS: tuple[str, ...] = tuple(_KEYS)

_T = TypeVar("_T")


def _one_field_per_key(cls: type[_T]) -> type[_T]:
    """Give ``cls`` a field per key, then make it a frozen dataclass.

    Owners declare keys as data, yet ``settings.adx_threshold``, keyword
    construction, ``dataclasses.replace`` and equality work exactly as for
    fields written in the class.
    """
    cls.__annotations__ = {key.attr: type(key.default) for key in KEY_TABLE}
    for key in KEY_TABLE:
        mutable = type(key.default).__hash__ is None  # the rate table: each Settings gets its own copy
        setattr(cls, key.attr, field(default_factory=key.fresh_default) if mutable else key.default)
    return dataclass(frozen=True)(cls)


@_one_field_per_key
class Settings:
    """Typed, validated ``.env_bot``. Attribute ``foo_bar`` is key ``FOO_BAR``."""

    if TYPE_CHECKING:
        # The fields are added from KEY_TABLE at import, so a type checker sees every key as Any
        # (and, through __dataclass_fields__, a dataclass that `dataclasses.replace` accepts).
        __dataclass_fields__: ClassVar[dict[str, Field[Any]]]

        def __init__(self, **values: Any) -> None: ...

        def __getattr__(self, name: str) -> Any: ...

    def to_env(self) -> dict[str, str]:
        """Every key with its ``.env_bot`` text, in schema order."""
        return {key.name: t.render(getattr(self, key.attr)) for key in KEY_TABLE}

    def redacted(self) -> dict[str, str]:
        return {key: (REDACTED if is_secret_key(key) and value else value) for key, value in self.to_env().items()}

    def with_values(self, values: dict[str, str]) -> Settings:
        return replace(self, **_parse_values(values, source="<override>"))


def is_secret_key(key: str) -> bool:
    spec = _KEYS.get(key.upper())
    return bool(spec and spec.secret) or looks_secret(key)


def key_doc(key: str) -> str:
    return _KEYS[key.upper()].doc


def default_value(key: str) -> Any:
    return _KEYS[key.upper()].fresh_default()


def suggest(key: str) -> str:
    close = difflib.get_close_matches(key.upper(), KNOWN_KEYS, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


# -- dotenv parsing ---------------------------------------------------------------------------
_LINE = re.compile(r"^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$")


def parse_dotenv(text: str, *, source: str) -> dict[str, str]:
    """Parse dotenv text strictly; errors name ``source:line``.

    Supported: ``KEY=value``, ``export KEY=value``, blank lines, ``# comments``,
    single- or double-quoted values, and a trailing `` # comment`` after an
    unquoted value.
    """
    values: dict[str, str] = {}
    for number, raw_line in enumerate(text.splitlines(), start=1):
        line = raw_line.strip()
        if not line or line.startswith("#"):
            continue
        match = _LINE.match(line)
        if not match:
            raise ConfigError(f"{source}:{number}: expected KEY=VALUE, got {shape(line)}")
        key, raw = match.group(1), match.group(2).strip()
        if raw[:1] in {'"', "'"}:
            quote = raw[0]
            end = raw.find(quote, 1)
            if end < 0:
                raise ConfigError(f"{source}:{number}: {key}: unterminated {quote} quote")
            rest = raw[end + 1 :].strip()
            if rest and not rest.startswith("#"):
                raise ConfigError(f"{source}:{number}: {key}: unexpected text after the closing quote")
            value = raw[1:end]
        else:
            value = raw.split(" #", 1)[0].strip()
        if any(ord(ch) < 32 and ch != "\t" for ch in value):
            raise ConfigError(f"{source}:{number}: {key}: control characters are not allowed")
        if key.upper() in values:
            raise ConfigError(f"{source}:{number}: {key}: key appears twice")
        values[key.upper()] = value
    return values


def _parse_values(values: dict[str, str], *, source: str) -> dict[str, Any]:
    parsed: dict[str, Any] = {}
    for key, raw in values.items():
        spec = _KEYS.get(key.upper())
        if spec is None:
            raise ConfigError(f"{source}: unknown key {key}{suggest(key)}")
        try:
            parsed[spec.attr] = spec.parse(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}: {key.upper()}: got {shape(raw)}; {exc}") from None
    return parsed


def settings_from_text(text: str, *, source: str) -> Settings:
    settings = Settings(**_parse_values(parse_dotenv(text, source=source), source=source))
    _cross_check(settings, source)
    return settings


def _cross_check(settings: Settings, source: str) -> None:
    total = settings.alloc_open + settings.alloc_mid + settings.alloc_close
    if total > 1:
        raise ConfigError(f"{source}: ALLOC_OPEN+ALLOC_MID+ALLOC_CLOSE is {total}; expected a sum <= 1")
    if settings.imbalance_window_end_utc <= settings.imbalance_window_start_utc:
        raise ConfigError(f"{source}: IMBALANCE_WINDOW_END_UTC must be after IMBALANCE_WINDOW_START_UTC")


def render_env(values: dict[str, str], *, header: Iterable[str] = ()) -> str:
    """Dotenv text for ``values``; quotes anything with spaces or ``#``."""
    lines = [f"# {line}" for line in header]
    for key, value in values.items():
        needs_quote = any(ch in value for ch in " #'\"") or value == ""
        lines.append(f'{key}="{value}"' if needs_quote and '"' not in value else f"{key}={value}")
    return "\n".join(lines) + "\n"


def default_env_text(settings: Settings | None = None) -> str:
    return render_env(
        (settings or Settings()).to_env(), header=["TradeBot .env_bot — paper mode defaults written by tbot init"]
    )
