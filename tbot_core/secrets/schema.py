"""The named secrets this bot knows and the fields each must carry.

Checked on every ``set`` so a typo in a field name fails at the operator's
keyboard instead of as a login error at the open.  Values of fields marked
public (ports, flags) are not registered for scrubbing: they are not secret,
and scrubbing ``true`` or ``587`` out of every log line would garble the logs.
"""

from __future__ import annotations

import difflib
from collections.abc import Callable
from dataclasses import dataclass, field

from tbot_core.errors import ConfigError

MAX_VALUE_CHARS = 4096


def _port(value: str) -> str | None:
    return None if value.isdigit() and 1 <= int(value) <= 65535 else "expected a port number 1-65535"


def _digits(value: str) -> str | None:
    return None if value.isdigit() else "expected digits"


def _boolean(value: str) -> str | None:
    return None if value.lower() in ("true", "false") else "expected true or false"


def _user_name(value: str) -> str | None:
    ok = 1 <= len(value) <= 64 and all(ch.isalnum() or ch in "_.@-" for ch in value)
    return None if ok else "expected a user name: 1-64 letters, digits, _ . @ -"


def _url(value: str) -> str | None:
    return None if value.startswith(("https://", "http://")) else "expected an http(s):// URL"


@dataclass(frozen=True)
class SecretSchema:
    doc: str
    required: tuple[str, ...]
    optional: tuple[str, ...] = ()
    public: frozenset[str] = frozenset()
    formats: dict[str, Callable[[str], str | None]] = field(default_factory=dict)

    @property
    def fields(self) -> tuple[str, ...]:
        return self.required + self.optional


KNOWN_SECRETS: dict[str, SecretSchema] = {
    "broker_alpaca": SecretSchema("Alpaca API key pair", ("api_key", "secret_key")),
    "broker_ibkr": SecretSchema(
        "Interactive Brokers account (host/port/client_id override the config)",
        ("account",),
        ("host", "port", "client_id"),
        public=frozenset({"port", "client_id"}),
        formats={"port": _port, "client_id": _digits},
    ),
    "screener_api": SecretSchema("Finnhub API key for the fundamental guard", ("api_key",)),
    "notifier_smtp": SecretSchema(
        "SMTP account for alerts",
        ("host", "port", "username", "password", "from", "to", "starttls"),
        public=frozenset({"port", "starttls"}),
        formats={"port": _port, "starttls": _boolean},
    ),
    "notifier_webhook": SecretSchema("Webhook for alerts", ("url",), ("token",), formats={"url": _url}),
    # `tbot serve`'s login; the user name is the operator named on flags sent from the browser (not secret)
    "web_console": SecretSchema(
        "Login for the console in a browser (tbot serve)",
        ("user", "password"),
        public=frozenset({"user"}),
        formats={"user": _user_name},
    ),
}


def schema_for(name: str) -> SecretSchema:
    schema = KNOWN_SECRETS.get(name)
    if schema is None:
        close = difflib.get_close_matches(name, KNOWN_SECRETS, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else f"; expected one of {', '.join(KNOWN_SECRETS)}"
        raise ConfigError(f"secret {name!r}: unknown name{hint}")
    return schema


def validate(name: str, data: object) -> dict[str, str]:
    """The fields of ``data`` checked against the schema; errors name the field, never its value."""
    schema = schema_for(name)
    if not isinstance(data, dict):
        raise ConfigError(f"secret {name}: expected a JSON object of field names to text values")
    for key in data:
        if key not in schema.fields:
            close = difflib.get_close_matches(str(key), schema.fields, n=1, cutoff=0.6)
            hint = f"; did you mean {close[0]}?" if close else f"; expected {', '.join(schema.fields)}"
            raise ConfigError(f"secret {name}: unknown field {str(key)[:40]!r}{hint}")
    for key in schema.required:
        if key not in data:
            raise ConfigError(f"secret {name}: missing field {key!r} (required: {', '.join(schema.required)})")
    checked: dict[str, str] = {}
    for key, value in data.items():
        if not isinstance(value, str):
            raise ConfigError(f"secret {name}: field {key!r}: expected text, got {type(value).__name__}")
        if not value.strip() or len(value) > MAX_VALUE_CHARS or any(ord(ch) < 32 for ch in value):
            raise ConfigError(
                f"secret {name}: field {key!r}: expected non-empty text up to {MAX_VALUE_CHARS} chars without control characters"
            )
        problem = schema.formats.get(key, lambda _v: None)(value)
        if problem:
            raise ConfigError(f"secret {name}: field {key!r}: {problem}")
        checked[key] = value
    return checked
