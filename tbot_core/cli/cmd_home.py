"""``tbot init`` and ``tbot self-check``."""

from __future__ import annotations

import argparse
import sys

from tbot_core.cli.common import add_home_option, open_home, table
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tbot_core.startup import BUILD_CHECK_NOTE, run_self_check


def register(sub: argparse._SubParsersAction) -> None:
    init = sub.add_parser("init", help="create a paper-mode bot home (key, encrypted config, databases, sample data)")
    add_home_option(init)
    init.add_argument("--force", action="store_true", help="replace an existing home, keeping a timestamped backup")
    init.add_argument("--if-missing", action="store_true", help="do nothing (exit 0) when the home already exists")
    init.add_argument("--identity", default="TBOT_PAPER_01", help="BOT_IDENTITY (A-Z, 0-9, _)")
    init.add_argument(
        "--jurisdiction", default="US", help="JURISDICTION_CODE (two letters; needs a rate in BSM_RISK_FREE_RATES)"
    )
    init.add_argument(
        "--risk-free-rate",
        default=None,
        metavar="RATE",
        help="add JURISDICTION:RATE to BSM_RISK_FREE_RATES (e.g. 0.03), for a jurisdiction it has no rate for",
    )
    init.set_defaults(handler=cmd_init)

    check = sub.add_parser(
        "self-check",
        help="run the startup stages' self-checks in order (build_check runs only at core start); exit 1 on any failure",
    )
    add_home_option(check)
    check.set_defaults(handler=cmd_self_check)


def cmd_init(args: argparse.Namespace) -> int:
    paths = HomePaths(getattr(args, "home", None))
    if args.if_missing and paths.current_link.exists():
        print(f"bot home exists: {paths.root}")
        return 0
    created, backup = init_home(
        paths.root,
        force=args.force,
        identity=args.identity,
        jurisdiction=args.jurisdiction,
        risk_free_rate=args.risk_free_rate,
    )
    print(f"created paper-mode bot home: {created.root}")
    if backup:
        print(f"previous home kept at: {backup}")
    return 0


def cmd_self_check(args: argparse.Namespace) -> int:
    home = open_home(args)
    results = run_self_check(home)
    print(
        table(
            ["module", "result", "checked (UTC)", "detail / hint"],
            [
                (
                    r.module,
                    "ok" if r.ok else "FAIL",
                    r.checked_utc,
                    r.detail if r.ok else f"{r.detail} -> {r.hint}" if r.hint else r.detail,
                )
                for r in results
            ],
        )
    )
    print(BUILD_CHECK_NOTE)
    for warning in home.warnings:
        home.warn(warning)
    failed = [r for r in results if not r.ok]
    if failed:
        first = failed[0]
        print(
            f"self-check failed: {first.module}: {first.detail}" + (f" (hint: {first.hint})" if first.hint else ""),
            file=sys.stderr,
        )
        return 1
    return 0
