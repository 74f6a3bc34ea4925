"""``tbot secrets set NAME --stdin | list | delete NAME | rotate``.

Values only ever arrive on standard input, so they never appear in argv, the
process list or shell history; nothing here prints a value.
"""

from __future__ import annotations

import argparse
import json
import sys

from tbot_core.cli.common import add_home_option, open_home, table
from tbot_core.errors import ConfigError
from tbot_core.secrets.rotation import recover, rotate
from tbot_core.secrets.schema import KNOWN_SECRETS
from tbot_core.secrets.store import SecretStore
from tbot_core.secrets.vault import read_generation_meta

MAX_STDIN_BYTES = 64 * 1024


def register(sub: argparse._SubParsersAction) -> None:
    secrets = sub.add_parser("secrets", help="store, list, delete secrets; rotate the vault key")
    inner = secrets.add_subparsers(dest="secrets_command", metavar="ACTION")
    inner.required = True
    set_ = inner.add_parser("set", help="store a secret from a JSON object on standard input (rotates the key)")
    add_home_option(set_)
    set_.add_argument("name", help=f"one of {', '.join(KNOWN_SECRETS)}")
    set_.add_argument("--stdin", action="store_true", required=True, help="read the JSON object from standard input")
    set_.set_defaults(handler=cmd_set)
    list_ = inner.add_parser("list", help="names, field names, version and UTC time (never values)")
    add_home_option(list_)
    list_.set_defaults(handler=cmd_list)
    delete = inner.add_parser("delete", help="remove a secret (audited; the old generation is kept as a backup)")
    add_home_option(delete)
    delete.add_argument("name")
    delete.set_defaults(handler=cmd_delete)
    rotate_ = inner.add_parser("rotate", help="re-encrypt every artifact with a brand-new key, atomically")
    add_home_option(rotate_)
    rotate_.set_defaults(handler=cmd_rotate)


def _read_stdin_json(name: str) -> object:
    raw = sys.stdin.buffer.read(MAX_STDIN_BYTES + 1)
    if len(raw) > MAX_STDIN_BYTES:
        raise ConfigError(f"stdin: secret {name}: more than {MAX_STDIN_BYTES} bytes")
    try:
        return json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise ConfigError(f"stdin: secret {name}: not UTF-8 text") from None
    except json.JSONDecodeError as exc:  # the message names a position, never the text
        raise ConfigError(
            f"stdin: secret {name}: not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})"
        ) from None


def cmd_set(args: argparse.Namespace) -> int:
    home = open_home(args)
    home.require_exists()
    data = _read_stdin_json(args.name)
    version = SecretStore(home).set(args.name, data)
    print(
        f"secret {args.name}: stored as version {version}; vault key rotated to generation {home.vault.current_generation()}"
    )
    return 0


def cmd_list(args: argparse.Namespace) -> int:
    home = open_home(args)
    home.require_exists()
    store = SecretStore(home)
    present = store.names()
    rows: list[tuple[str, str, int | str, str]] = []
    for name in sorted(set(present) | set(KNOWN_SECRETS)):
        if name in present:
            info = store.info(name)
            rows.append((name, ",".join(info.fields), info.version, info.updated_utc))
        else:
            rows.append((name, "-", "-", "(not set)"))
    print(table(["name", "fields", "version", "updated (UTC)"], rows))
    return 0


def cmd_delete(args: argparse.Namespace) -> int:
    home = open_home(args)
    home.require_exists()
    generation = SecretStore(home).delete(args.name)
    print(
        f"secret {args.name}: deleted; previous generation kept in backups/; vault key rotated to generation {generation}"
    )
    return 0


def cmd_rotate(args: argparse.Namespace) -> int:
    home = open_home(args)
    home.require_exists()
    recover(home)
    generation = rotate(home, initiator="operator")
    meta = read_generation_meta(home.vault.current_dir())
    print(
        f"vault key rotated: generation {generation}, key fingerprint {meta['key_fingerprint']}, "
        f"{len(meta['artifacts'])} artifacts re-encrypted"
    )
    return 0
