"""``tbot config show`` and ``tbot config set KEY VALUE``."""

from __future__ import annotations

import argparse

from tbot_core.cli.common import add_home_option, open_home, table
from tbot_core.config import (
    KNOWN_KEYS,
    Settings,
    is_secret_key,
    key_doc,
    parse_dotenv,
    render_env,
    settings_from_text,
    suggest,
)
from tbot_core.errors import ConfigError
from tbot_core.home import BotHome
from tbot_core.paths import HomePaths
from tbot_core.sanitize import register_secret
from tbot_core.secrets.rotation import rotate


def register(sub: argparse._SubParsersAction) -> None:
    config = sub.add_parser("config", help="show or change the encrypted .env_bot")
    inner = config.add_subparsers(dest="config_command", metavar="ACTION")
    inner.required = True
    show = inner.add_parser("show", help="every key with its value (secret-like values redacted)")
    add_home_option(show)
    show.add_argument("--docs", action="store_true", help="add each key's description")
    show.set_defaults(handler=cmd_show)
    set_ = inner.add_parser("set", help="validate, encrypt and audit one change")
    add_home_option(set_)
    set_.add_argument("key")
    set_.add_argument("value")
    set_.set_defaults(handler=cmd_set)


def cmd_show(args: argparse.Namespace) -> int:
    home = open_home(args)
    values = home.settings.redacted()
    headers = ["key", "value", "description"] if args.docs else ["key", "value"]
    print(table(headers, [(k, v, key_doc(k)) if args.docs else (k, v) for k, v in values.items()]))
    for warning in home.warnings:
        home.warn(warning)
    return 0


def apply_config_change(home: BotHome, key: str, value: str, *, actor: str = "operator") -> tuple[str, str]:
    """Validate ``KEY=value`` against the whole config, encrypt it, audit it. Returns (old, new) shown safely."""
    key = key.upper()
    if key not in KNOWN_KEYS:
        raise ConfigError(f"unknown key {key}{suggest(key)}")
    if is_secret_key(key):
        register_secret(value)
    seen: dict[str, str] = {}

    def updated(plaintext: bytes | None) -> bytes:
        """Runs under the vault lock: the change applies to the config as it is at that moment."""
        current = parse_dotenv((plaintext or b"").decode("utf-8"), source=".env_bot.enc")
        seen["old"] = current.get(key, "(default)")
        current[key] = value
        text = render_env(current)
        settings_from_text(text, source=f"config set {key}")
        return text.encode("utf-8")

    Settings().with_values({key: value})  # refuse a malformed value before taking the vault lock
    rotate(home, initiator="system" if actor == "system" else "operator", changes={HomePaths.CONFIG_REL: updated})
    old = seen["old"]
    secret = is_secret_key(key)
    shown_old, shown_new = ("***", "***") if secret else (old, value)
    with home.audit() as audit:
        audit.append("config", "config_changed", {"setting": key, "old": shown_old, "new": shown_new}, actor=actor)
    return shown_old, shown_new


def cmd_set(args: argparse.Namespace) -> int:
    home = open_home(args)
    home.require_exists()
    old, new = apply_config_change(home, args.key, args.value)
    print(f"{args.key.upper()}: {old} -> {new}")
    return 0
