"""The chart of accounts: the shipped default, the role mapping, and remaps.

Postings never name account codes directly; they name *roles* (cash,
securities, fees, ...) and the append-only ``coa_mapping`` table says which
account a role posts to today.  Remaps and new accounts are batches like any
other (telemetry, audit), and a remap can move the old account's balance with
a balanced RECLASS group so no money is stranded.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass
from functools import lru_cache

import apsw

from tbot_core.db import one_row
from tbot_core.errors import ConfigError, TbotError
from tbot_core.ledger.batch import BatchMeta, BatchOutcome, Ledger
from tbot_core.ledger.draft import Draft, signed_legs
from tbot_core.ledger.posting import require_reason
from tbot_core.paths import package_resource
from tbot_core.timeutil import iso_z

ACCOUNT_KINDS = ("asset", "liability", "equity", "income", "expense")
DEFAULT_COA_BATCH = "coa:default"


@dataclass(frozen=True)
class ChartOfAccounts:
    accounts: tuple[tuple[str, str, str], ...]  # (code, name, kind)
    roles: dict[str, str]  # role -> account code

    def kind_of(self, code: str) -> str:
        return next(kind for c, _, kind in self.accounts if c == code)

    def role_kinds(self) -> dict[str, str]:
        return {role: self.kind_of(code) for role, code in self.roles.items()}


@lru_cache(maxsize=1)
def default_coa() -> ChartOfAccounts:
    source = "tbot_core/ledger/default_coa.json"
    try:
        raw = json.loads(package_resource("ledger", "default_coa.json").read_text(encoding="utf-8"))
        accounts = tuple((str(a["code"]), str(a["name"]), str(a["kind"])) for a in raw["accounts"])
        roles = {str(role): str(code) for role, code in raw["roles"].items()}
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise ConfigError(f"{source}: unreadable default chart of accounts ({type(exc).__name__})") from None
    codes = {code for code, _, _ in accounts}
    bad = [code for code, _, kind in accounts if kind not in ACCOUNT_KINDS] + [
        c for c in roles.values() if c not in codes
    ]
    if bad or len(codes) != len(accounts):
        raise ConfigError(f"{source}: account {bad[0] if bad else '(duplicate code)'} is malformed or unknown")
    return ChartOfAccounts(accounts, roles)


def current_mapping(conn: apsw.Connection) -> dict[str, str]:
    """The account each role posts to now (the newest mapping row of each role)."""
    return dict(
        conn.execute(
            "SELECT role, account_code FROM coa_mapping WHERE mapping_id IN "
            "(SELECT max(mapping_id) FROM coa_mapping GROUP BY role)"
        )
    )


def seed_default(ledger: Ledger) -> BatchOutcome:
    """Load the shipped chart into an empty ledger (a repeat is a no-op by batch id)."""
    coa = default_coa()

    def build(draft: Draft) -> None:
        existing = draft.account_codes()
        for code, name, kind in coa.accounts:
            if code not in existing:
                draft.add_account(code, name, kind)
        for role, code in coa.roles.items():
            draft.map_role(role, code)

    return ledger.run(BatchMeta(DEFAULT_COA_BATCH, "coa", reason="default chart of accounts"), build)


def coa_problems(conn: apsw.Connection) -> list[str]:
    """Ways the stored chart differs from the shipped default (extra accounts are fine)."""
    coa = default_coa()
    stored = {code: (name, kind) for code, name, kind in conn.execute("SELECT code, name, kind FROM accounts")}
    problems = []
    for code, name, kind in coa.accounts:
        if code not in stored:
            problems.append(f"account {code} ({name}) missing")
        elif stored[code] != (name, kind):
            problems.append(f"account {code} is {stored[code][1]} {stored[code][0]!r}, expected {kind} {name!r}")
    mapping = current_mapping(conn)
    for role, kind in coa.role_kinds().items():
        mapped = mapping.get(role)
        if mapped is None:
            problems.append(f"role {role} has no account")
        elif mapped not in stored or stored[mapped][1] != kind:
            problems.append(f"role {role} maps to {mapped}, which is not a {kind} account")
    problems.extend(f"role {role} is not a known role" for role in mapping if role not in coa.roles)
    return problems


def add_account(ledger: Ledger, code: str, name: str, kind: str, *, reason: str, caller: str = "ui") -> BatchOutcome:
    if kind not in ACCOUNT_KINDS:
        raise TbotError(f"kind {kind!r}: expected one of {', '.join(ACCOUNT_KINDS)}")
    if not code or len(code) > 32 or not code.replace("_", "").replace("-", "").isalnum():
        raise TbotError(f"account code {code!r}: expected 1-32 letters, digits, - or _")
    meta = BatchMeta(
        f"coa:add:{code}:{uuid.uuid4().hex[:12]}", "coa", caller, require_reason(reason, "a chart-of-accounts change")
    )

    def build(draft: Draft) -> None:
        if code in draft.account_codes():
            raise TbotError(f"account {code} already exists")
        draft.add_account(code, name, kind)

    return ledger.run(meta, build)


def remap(
    ledger: Ledger, role: str, account_code: str, *, reason: str, caller: str = "ui", move_balance: bool = False
) -> BatchOutcome:
    kinds = default_coa().role_kinds()
    if role not in kinds:
        raise TbotError(f"role {role!r}: expected one of {', '.join(sorted(kinds))}")
    meta = BatchMeta(
        f"coa:remap:{role}:{uuid.uuid4().hex[:12]}", "coa", caller, require_reason(reason, "a chart-of-accounts change")
    )

    def build(draft: Draft) -> None:
        row = draft.conn.execute("SELECT kind FROM accounts WHERE code = ?", (account_code,)).fetchone()
        if row is None:
            raise TbotError(f"account {account_code} does not exist", hint="add it with `tbot ledger coa add-account`")
        if row[0] != kinds[role]:
            raise TbotError(f"account {account_code} is {row[0]}; role {role} needs a {kinds[role]} account")
        old = current_mapping(draft.conn).get(role)
        if old == account_code:
            raise TbotError(f"role {role} already maps to {account_code}")
        draft.map_role(role, account_code)
        if move_balance and old is not None:
            (balance,) = one_row(
                draft.conn.execute(
                    "SELECT coalesce(sum(debit_cents - credit_cents), 0) FROM legs WHERE account_code = ?", (old,)
                )
            )
            if balance:
                draft.add_group(
                    "RECLASS",
                    iso_z(),
                    f"remap {role}: {old} -> {account_code}",
                    signed_legs([(account_code, balance), (old, -balance)]),
                )

    return ledger.run(meta, build)
