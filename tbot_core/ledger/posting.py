"""General postings: balanced groups given as explicit legs, and reversing entries.

``post_groups`` is what a caller uses when it already knows the accounts (the
benchmark, tests, and any future module); holdings hooks and the broker sync
build on the same batch runner.  Corrections are never edits: ``reverse_group``
posts the mirror image of a group and links it, once, to the original.
Reversing a holdings action would hand reserved money back to cash, which is a
reallocation; the seed allows that only as an explicit, audited manual
override, so such a reversal needs ``override=True`` and is audited as one.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from tbot_core.db import one_row
from tbot_core.errors import TbotError
from tbot_core.ledger.activity import normalize_broker_code
from tbot_core.ledger.batch import AUDIT_CATEGORY, BatchMeta, BatchOutcome, Ledger
from tbot_core.ledger.draft import Draft
from tbot_core.ledger.failures import validation
from tbot_core.money import fmt_cents
from tbot_core.timeutil import iso_z

# Groups that set money aside (or move it between reserves): never undone except by a manual override.
HOLDINGS_KINDS = ("FLOAT_TOPUP", "TAX_RESERVE", "PAYROLL", "REINVEST", "OVERRIDE")


def audit_actor(caller: str) -> str:
    """Who a manual override is recorded against: a ``ui`` batch was typed by the operator."""
    return "operator" if caller == "ui" else "system"


class GroupSpec(NamedTuple):
    kind: str
    effective_utc: str
    memo: str
    legs: Sequence[tuple[str, int, int]]  # (account_code, debit_cents, credit_cents)
    symbol: str = ""
    broker_code: str | None = None
    fitid: str | None = None
    content_hash: str | None = None


def post_groups(
    ledger: Ledger, batch_id: str, groups: Sequence[GroupSpec], *, caller: str = "system", reason: str = "posting"
) -> BatchOutcome:
    def build(draft: Draft) -> None:
        # All groups at once when they are all valid (add_groups spells each broker code once); otherwise one by
        # one, so the first fault is named.
        if isinstance(groups, (list, tuple)) and draft.add_groups(groups, normalize_broker_code):
            return
        add = draft.add_group
        for g in groups:
            code = g.broker_code
            broker = None if code is None else normalize_broker_code(code)
            add(
                g.kind,
                g.effective_utc,
                g.memo,
                g.legs,
                symbol=g.symbol,
                broker_code=broker,
                fitid=g.fitid,
                content_hash=g.content_hash,
            )

    return ledger.run(BatchMeta(batch_id, "posting", caller, reason), build)


def require_reason(reason: str, what: str) -> str:
    text = " ".join((reason or "").split())
    if len(text) < 3:
        raise TbotError(f"--reason: {what} needs an explicit reason (3+ characters)")
    return text


def reverse_group(
    ledger: Ledger, group_id: int, *, reason: str, caller: str = "ui", override: bool = False
) -> BatchOutcome:
    """Post the mirror image of ``group_id``; a holdings action needs ``override`` (audited, severity warning)."""
    why = require_reason(reason, "a manual override of a holdings action" if override else "a reversing entry")
    meta = BatchMeta(f"reversal:{group_id}", "override" if override else "reversal", caller, why)
    undone: list[tuple[str, int]] = []

    def build(draft: Draft) -> None:
        conn = draft.conn
        row = conn.execute("SELECT kind, symbol FROM groups WHERE group_id = ?", (group_id,)).fetchone()
        if row is None:
            raise validation("unknown_group", f"group {group_id} does not exist")
        if row[0] == "REVERSAL":
            raise validation(
                "reverse_reversal", f"group {group_id} is itself a reversal; post the original entry again instead"
            )
        if row[0] in HOLDINGS_KINDS and not override:
            raise validation(
                "holdings_need_override",
                f"group {group_id} is a {row[0]} holdings action; only an audited "
                f"manual override may undo it: tbot ledger reverse {group_id} --override --reason ...",
            )
        if override and row[0] not in HOLDINGS_KINDS:
            raise validation(
                "override_not_holdings",
                f"group {group_id} is a {row[0]}, not a holdings action "
                f"({', '.join(HOLDINGS_KINDS)}); reverse it without --override",
            )
        relieved = one_row(
            conn.execute(
                "SELECT count(*) FROM lot_reliefs lr JOIN lots l ON l.lot_id = lr.lot_id WHERE l.group_id = ? "
                "AND NOT EXISTS (SELECT 1 FROM groups r WHERE r.reverses_group_id = lr.group_id)",
                (group_id,),
            )
        )[0]
        if relieved:
            raise validation(
                "lot_already_sold",
                f"group {group_id} opened a lot that later sells relieved; reverse those sells first",
            )
        legs = [
            (account, credit, debit)
            for account, debit, credit in conn.execute(
                "SELECT account_code, debit_cents, credit_cents FROM legs WHERE group_id = ? ORDER BY leg_no",
                (group_id,),
            )
        ]
        draft.add_group(
            "REVERSAL", iso_z(), f"reversal of group {group_id}: {meta.reason}", legs, symbol=row[1], reverses=group_id
        )
        undone.append((row[0], sum(debit for _, debit, _ in legs)))

    outcome = ledger.run(meta, build)
    if override and undone and ledger.audit is not None:
        kind, cents = undone[0]
        ledger.audit.append(
            AUDIT_CATEGORY,
            "manual_override",
            {
                "batch_id": meta.batch_id,
                "action": "reverse",
                "group_id": group_id,
                "group_kind": kind,
                "amount": fmt_cents(cents),
                "reason": why,
            },
            severity="warning",
            actor=audit_actor(caller),
        )
    return outcome
