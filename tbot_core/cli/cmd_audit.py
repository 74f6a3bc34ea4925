"""``tbot audit tail`` and ``tbot audit verify``."""

from __future__ import annotations

import argparse

from tbot_core.cli.common import add_home_option, open_home, table
from tbot_core.errors import TbotError
from tbot_core.home import BotHome


def register(sub: argparse._SubParsersAction) -> None:
    audit = sub.add_parser("audit", help="read and verify the append-only audit log")
    inner = audit.add_subparsers(dest="audit_command", metavar="ACTION")
    inner.required = True
    tail = inner.add_parser("tail", help="the newest audit events")
    add_home_option(tail)
    tail.add_argument("-n", type=int, default=20, help="how many events (default 20)")
    tail.add_argument("--category", default=None)
    tail.add_argument("--severity", default=None)
    tail.add_argument("--search", default=None, help="text to find in event, category or context")
    tail.set_defaults(handler=cmd_tail)
    verify = inner.add_parser("verify", help="check the hash chain; exit 1 naming the first bad seq")
    add_home_option(verify)
    verify.set_defaults(handler=cmd_verify)


def _audit_path(args: argparse.Namespace) -> BotHome:
    home = open_home(args)
    if not home.paths.audit_db.exists():
        raise TbotError("db/audit.db: not found", hint="run `tbot init` first")
    return home


def cmd_tail(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise TbotError("-n: expected a positive number")
    with _audit_path(args).audit(readonly=True) as audit:
        rows = audit.tail(args.n, category=args.category, severity=args.severity, search=args.search)
    print(
        table(
            ["seq", "time (UTC)", "category", "event", "severity", "actor", "context"],
            [(r.seq, r.ts_utc, r.category, r.event, r.severity, r.actor, r.context[:120]) for r in rows],
        )
    )
    return 0


def cmd_verify(args: argparse.Namespace) -> int:
    with _audit_path(args).audit(readonly=True) as audit:
        try:
            count = audit.verify()
        except TbotError as exc:
            print(f"audit verify FAILED: {exc}")
            return 1
    print(f"audit chain intact: {count} rows")
    return 0
