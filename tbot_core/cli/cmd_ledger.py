"""``tbot ledger``: sync, check, balance, batches, fills, coa, hook, override, reverse, migrate.

Every write goes through ``tbot_core.ledger`` (one atomic batch each, audited
as actor ``ui``).  ``sync`` reads its activities through
``_activities_from_args`` so another source (``--from-broker``) is one more
option in the source group and one more branch there.
"""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import Callable
from decimal import Decimal
from pathlib import Path

from tbot_core.cli.cmd_ledger_fills import HELP as FILLS_HELP
from tbot_core.cli.cmd_ledger_fills import add_options as add_fills_options
from tbot_core.cli.cmd_ledger_fills import cmd_fills
from tbot_core.cli.common import add_home_option, open_home, table
from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.ledger.activity import Activity, normalize_broker_code
from tbot_core.ledger.activity_file import read_activity_file
from tbot_core.ledger.batch import BatchOutcome, Ledger
from tbot_core.ledger.checks import ledger_findings, trial_balance
from tbot_core.ledger.coa import ACCOUNT_KINDS, add_account, current_mapping, default_coa, remap
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.hooks import HOOKS, manual_override, run_hook
from tbot_core.ledger.migrate import migrate_ledger
from tbot_core.ledger.posting import reverse_group
from tbot_core.ledger.sync import ingest_activities
from tbot_core.money import fmt_cents, parse_decimal
from tbot_core.runtime.lock import core_running
from tbot_core.timeutil import stamp

CLI_CALLER = "ui"


def register(sub: argparse._SubParsersAction) -> None:
    ledger = sub.add_parser("ledger", help="double-entry books: broker sync, checks, balances, holdings hooks")
    inner = ledger.add_subparsers(dest="ledger_command", metavar="ACTION")
    inner.required = True

    sync = _action(inner, "sync", "post a broker activity export as one atomic run", cmd_sync)
    sync.add_argument("--broker", required=True, help="broker code, e.g. ALPACA, IBKR, PAPER")
    source = sync.add_mutually_exclusive_group(required=True)
    source.add_argument("--file", type=Path, help="JSON Lines or CSV export (see README, Ledger)")
    source.add_argument("--from-broker", action="store_true", help="pull activities through the alpaca or ibkr adapter")
    sync.add_argument("--since", default=None, help="with --from-broker: only activities after this UTC date/time")
    sync.add_argument("--sync-run-id", default=None, help="run id (default: derived from the broker and file content)")

    _action(
        inner,
        "check",
        "integrity, foreign keys, balance, orphans, telemetry, schema and COA; exit 1 on a problem",
        cmd_check,
    )
    _action(inner, "balance", "trial balance by account", cmd_balance)
    batches = _action(inner, "batches", "batch telemetry, newest first (committed and rolled back)", cmd_batches)
    batches.add_argument("-n", type=int, default=20)
    add_fills_options(_action(inner, "fills", FILLS_HELP, cmd_fills))

    coa = _action(inner, "coa", "chart of accounts: show, add-account, remap", None)
    coa_inner = coa.add_subparsers(dest="coa_command", metavar="ACTION")
    coa_inner.required = True
    _action(coa_inner, "show", "accounts and the role mapping", cmd_coa_show)
    add = _action(coa_inner, "add-account", "add an account (audited)", cmd_coa_add)
    add.add_argument("code")
    add.add_argument("--name", required=True)
    add.add_argument("--kind", required=True, choices=ACCOUNT_KINDS)
    add.add_argument("--reason", required=True)
    rem = _action(coa_inner, "remap", "point a role at another account of the same kind (audited)", cmd_coa_remap)
    rem.add_argument("role")
    rem.add_argument("account")
    rem.add_argument("--reason", required=True)
    rem.add_argument("--move-balance", action="store_true", help="also move the old account's balance (RECLASS entry)")

    hook = _action(
        inner, "hook", "fund a reserve from cash: " + ", ".join(h.replace("_", "-") for h in HOOKS), cmd_hook
    )
    hook.add_argument("name", choices=[h.replace("_", "-") for h in HOOKS])
    hook.add_argument("amount", help="positive amount in whole cents, e.g. 250.00")
    hook.add_argument("--memo", default="")
    hook.add_argument("--batch-id", required=True, help="your id for this posting; a retry with the same id funds once")

    override = _action(inner, "override", "manual reallocation between roles (rebalance); needs --reason", cmd_override)
    override.add_argument("--from", dest="source", required=True, help="role money leaves, e.g. tax_reserve")
    override.add_argument("--to", dest="target", required=True, help="role money goes to, e.g. cash")
    override.add_argument("--amount", required=True)
    override.add_argument("--reason", required=True)
    override.add_argument(
        "--batch-id", required=True, help="your id for this posting; a retry with the same id moves once"
    )

    reverse = _action(inner, "reverse", "post the reversing entry of a group (the only correction)", cmd_reverse)
    reverse.add_argument("group_id", type=int)
    reverse.add_argument("--reason", required=True)
    reverse.add_argument(
        "--override",
        action="store_true",
        help="required to undo a holdings action (float top-up, tax, payroll, reinvest, override); audited",
    )

    _action(
        inner,
        "migrate",
        "upgrade db/ledger.db to this code's schema version (backup first, one transaction)",
        cmd_migrate,
    )


def _action(
    inner: argparse._SubParsersAction[argparse.ArgumentParser],
    name: str,
    text: str,
    handler: Callable[[argparse.Namespace], int] | None,
) -> argparse.ArgumentParser:
    parser = inner.add_parser(name, help=text)
    add_home_option(parser)
    if handler is not None:
        parser.set_defaults(handler=handler)
    return parser


def _home(args: argparse.Namespace) -> BotHome:
    home = open_home(args)
    if not home.paths.ledger_db.exists():
        raise TbotError("db/ledger.db: not found", hint="run `tbot init` first")
    return home


def _amount(text: str, field: str) -> Decimal:
    try:
        return parse_decimal(text)
    except ValueError as exc:
        raise TbotError(f"{field}: {exc}") from None


def _report(outcome: BatchOutcome, what: str) -> int:
    if outcome.already_committed:
        print(f"{what}: batch {outcome.batch_id} already posted; nothing added")
    else:
        print(f"{what}: batch {outcome.batch_id} committed ({outcome.group_count} groups, {outcome.row_count} legs)")
    return 0


# -- sync ------------------------------------------------------------------------------------
def _activities_from_args(args: argparse.Namespace, broker: str) -> tuple[list[Activity], str]:
    """The activities to post and the run id to use when none was given."""
    if args.from_broker:
        from tbot_core.brokers.pull import pull_activities

        return pull_activities(open_home(args), broker, args.since)
    activities = read_activity_file(args.file)
    digest = hashlib.sha256(broker.encode() + b"\x1f" + args.file.read_bytes()).hexdigest()[:24]
    return activities, f"file-{digest}"


def cmd_sync(args: argparse.Namespace) -> int:
    home = _home(args)
    broker = normalize_broker_code(args.broker, "--broker")
    activities, default_run_id = _activities_from_args(args, broker)
    with home.audit() as audit:
        result = ingest_activities(
            home.paths.ledger_db,
            broker,
            activities,
            sync_run_id=args.sync_run_id or default_run_id,
            caller=CLI_CALLER,
            audit=audit,
        )
    if result.already_committed:
        print(
            f"sync {result.sync_run_id}: already committed earlier ({result.posted} posted, {result.skipped_known} skipped "
            f"then); nothing added"
        )
    else:
        print(
            f"sync {result.sync_run_id}: committed; posted {result.posted} activities ({result.row_count} legs), "
            f"skipped {result.skipped_known} already known"
        )
    return 0


# -- read-only views -----------------------------------------------------------------------------
def cmd_check(args: argparse.Namespace) -> int:
    findings = ledger_findings(_home(args).paths.ledger_db)
    for f in findings:
        print(f"{'ok  ' if f.ok else 'FAIL'} {f.name}: {f.detail}")
    bad = [f.name for f in findings if not f.ok]
    if bad:
        print(f"ledger check FAILED: {', '.join(bad)}")
        return 1
    print("ledger check passed")
    return 0


def cmd_balance(args: argparse.Namespace) -> int:
    rows = trial_balance(_home(args).paths.ledger_db)
    debit = sum(r[3] for r in rows)
    credit = sum(r[4] for r in rows)
    body = [(code, name, kind, fmt_cents(d), fmt_cents(c), fmt_cents(d - c)) for code, name, kind, d, c in rows]
    body.append(("", "TOTAL", "", fmt_cents(debit), fmt_cents(credit), fmt_cents(debit - credit)))
    print(table(["account", "name", "kind", "debits", "credits", "balance (Dr-Cr)"], body))
    return 0 if debit == credit else 1


def cmd_batches(args: argparse.Namespace) -> int:
    if args.n < 1:
        raise TbotError("-n: expected a positive number")
    conn = open_ledger(_home(args).paths.ledger_db, readonly=True)
    try:
        rows = conn.execute(
            "SELECT batch_id, sync_run_id, kind, caller, started_utc, completed_utc, row_count, commit_state, "
            "error_category, reason FROM batch_telemetry ORDER BY completed_utc DESC LIMIT ?",
            (args.n,),
        ).fetchall()
    finally:
        conn.close()
    print(
        table(
            [
                "batch_id",
                "sync_run_id",
                "kind",
                "caller",
                "started (UTC)",
                "completed (UTC)",
                "rows",
                "state",
                "error",
                "reason",
            ],
            [tuple("" if v is None else v for v in r[:9]) + (str(r[9])[:60],) for r in rows],
        )
    )
    return 0


def cmd_coa_show(args: argparse.Namespace) -> int:
    conn = open_ledger(_home(args).paths.ledger_db, readonly=True)
    try:
        accounts = conn.execute("SELECT code, name, kind FROM accounts ORDER BY code").fetchall()
        mapping = current_mapping(conn)
    finally:
        conn.close()
    print(table(["account", "name", "kind"], accounts))
    print()
    print(
        table(
            ["role", "account", "default"],
            [(role, mapping.get(role, "-"), code) for role, code in default_coa().roles.items()],
        )
    )
    return 0


# -- audited writes --------------------------------------------------------------------------------
def _write(args: argparse.Namespace, what: str, action: Callable[[Ledger], BatchOutcome]) -> int:
    home = _home(args)
    with home.audit() as audit, Ledger(home.paths.ledger_db, audit=audit) as ledger:
        return _report(action(ledger), what)


def cmd_coa_add(args: argparse.Namespace) -> int:
    return _write(
        args,
        f"add account {args.code}",
        lambda ledger: add_account(ledger, args.code, args.name, args.kind, reason=args.reason, caller=CLI_CALLER),
    )


def cmd_coa_remap(args: argparse.Namespace) -> int:
    return _write(
        args,
        f"remap {args.role} -> {args.account}",
        lambda ledger: remap(
            ledger, args.role, args.account, reason=args.reason, caller=CLI_CALLER, move_balance=args.move_balance
        ),
    )


def cmd_hook(args: argparse.Namespace) -> int:
    name = args.name.replace("-", "_")
    amount = _amount(args.amount, "amount")
    return _write(
        args,
        name,
        lambda ledger: run_hook(ledger, name, amount, memo=args.memo, caller=CLI_CALLER, batch_id=args.batch_id),
    )


def cmd_override(args: argparse.Namespace) -> int:
    amount = _amount(args.amount, "--amount")
    return _write(
        args,
        f"override {args.source} -> {args.target}",
        lambda ledger: manual_override(
            ledger, args.source, args.target, amount, reason=args.reason, caller=CLI_CALLER, batch_id=args.batch_id
        ),
    )


def cmd_reverse(args: argparse.Namespace) -> int:
    return _write(
        args,
        f"reverse group {args.group_id}",
        lambda ledger: reverse_group(
            ledger, args.group_id, reason=args.reason, caller=CLI_CALLER, override=args.override
        ),
    )


def cmd_migrate(args: argparse.Namespace) -> int:
    """Backup, then rebuild in one transaction (tbot_core/ledger/migrate.py); a refusal is one ``error:`` line."""
    home = _home(args)
    if core_running(home.paths.core_lock):  # a core of the old code would keep writing old-shape rows
        raise TbotError("tbot ledger migrate: the core is running; stop it first", hint="tbot control stop")
    with home.audit() as audit:
        result = migrate_ledger(home.paths.ledger_db, home.paths.ledger_backup(stamp()), audit=audit, actor=CLI_CALLER)
    for line in result.lines():
        print(line)
    return 0
