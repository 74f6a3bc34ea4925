"""Holdings hooks: float top-up, tax reserve, payroll, reinvest — and the manual override.

Hooks only ever move money *from cash into* a reserve; once set aside it is
never reallocated by a hook.  Moving money between any other pair of roles
(rebalancing, releasing a reserve) is a manual override: it needs an explicit
reason, is its own batch kind, and is audited with warning severity.  Every
hook checks the source balance first so a reserve can never be funded with
money the books do not hold.

A retried command must fund once, so a caller-chosen ``batch_id`` makes a hook
or override idempotent: the same id with the same money movement (action,
roles, amount) is answered "already posted"; the same id with a different
movement is refused, because answering "already posted" would silently drop
it.  Memo and reason are not compared: retyping them does not make a new
posting, and the first one stays on record.
"""

from __future__ import annotations

import re
import uuid
from decimal import Decimal
from typing import Any

import apsw

from tbot_core.db import one_row
from tbot_core.errors import TbotError
from tbot_core.ledger.batch import BatchMeta, BatchOutcome, Ledger
from tbot_core.ledger.coa import current_mapping, default_coa
from tbot_core.ledger.draft import Draft, signed_legs
from tbot_core.ledger.failures import LedgerBatchError, validation
from tbot_core.ledger.posting import audit_actor, require_reason
from tbot_core.money import fmt_cents, to_cents
from tbot_core.timeutil import iso_z

HOOKS = {  # hook name -> (group kind, role funded from cash)
    "float_topup": ("FLOAT_TOPUP", "float"),
    "tax_reserve": ("TAX_RESERVE", "tax_reserve"),
    "payroll": ("PAYROLL", "payroll_reserve"),
    "reinvest": ("REINVEST", "reinvest_reserve"),
}


_BATCH_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,99}")


def check_batch_id(batch_id: str) -> str:
    """An operator-chosen batch id: plain ASCII, so a retry typed again is the same id."""
    if not isinstance(batch_id, str) or not _BATCH_ID_RE.fullmatch(batch_id):
        raise TbotError(
            f"--batch-id {batch_id!r:.60}: expected 1-100 characters: letters, digits and . _ : @ - "
            "(starting with a letter or digit)"
        )
    return batch_id


def _cents(amount: Decimal) -> int:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise TbotError("amount: expected a positive decimal such as 250.00")
    try:
        return to_cents(amount)
    except ValueError as exc:
        raise TbotError(f"amount: {exc}") from None


def _move(draft: Draft, kind: str, source_role: str, target_role: str, cents: int, memo: str) -> None:
    roles = current_mapping(draft.conn)
    for role in (source_role, target_role):
        if role not in roles:
            raise validation("coa_role_missing", f"role {role} has no account")
    source = roles[source_role]
    (balance,) = one_row(
        draft.conn.execute(
            "SELECT coalesce(sum(debit_cents - credit_cents), 0) FROM legs WHERE account_code = ?", (source,)
        )
    )
    if default_coa().role_kinds()[source_role] == "asset" and balance < cents:
        raise validation(
            "insufficient_balance",
            f"{source_role} ({source}) holds {fmt_cents(balance)}, cannot move {fmt_cents(cents)}",
        )
    draft.add_group(kind, iso_z(), memo, signed_legs([(roles[target_role], cents), (source, -cents)]))


def _refuse_other_content(
    conn: apsw.Connection,
    batch_id: str,
    batch_kind: str,
    group_kind: str,
    source_role: str,
    target_role: str,
    cents: int,
) -> None:
    """Raise unless batch ``batch_id`` is absent or moved exactly ``cents`` from ``source_role`` to ``target_role``.

    Roles are matched through the whole mapping history, so a remap since the first post does not make a
    retry look new.
    """
    row = conn.execute("SELECT kind FROM batches WHERE batch_id = ?", (batch_id,)).fetchone()
    if row is None:
        return
    groups = conn.execute("SELECT group_id, kind FROM groups WHERE batch_id = ?", (batch_id,)).fetchall()
    legs: list[tuple[Any, ...]] = conn.execute(
        "SELECT l.account_code, l.debit_cents, l.credit_cents FROM legs l "
        "JOIN groups g ON g.group_id = l.group_id WHERE g.batch_id = ? ORDER BY l.debit_cents DESC",
        (batch_id,),
    ).fetchall()
    same = (
        row[0] == batch_kind
        and [g[1] for g in groups] == [group_kind]
        and len(legs) == 2
        and (legs[0][1], legs[0][2], legs[1][1], legs[1][2]) == (cents, 0, 0, cents)
        and _was_mapped(conn, target_role, legs[0][0])
        and _was_mapped(conn, source_role, legs[1][0])
    )
    if same:
        return
    if row[0] in ("hook", "override") and len(legs) == 2:
        what = f"{row[0]} {groups[0][1] if groups else '?'} of {fmt_cents(max(legs[0][1], legs[1][1]))}"
    else:
        what = f"a {row[0]} batch"
    raise LedgerBatchError(
        f"--batch-id {batch_id} was already used for {what}; this {group_kind} of {fmt_cents(cents)} was not posted",
        category="validation",
        constraint="batch_id_content_changed",
        hint="retry with the same amount and roles to confirm, or pick a new --batch-id for a new posting",
    )


def _was_mapped(conn: apsw.Connection, role: str, account: str) -> bool:
    return (
        conn.execute("SELECT 1 FROM coa_mapping WHERE role = ? AND account_code = ?", (role, account)).fetchone()
        is not None
    )


def _run_once(
    ledger: Ledger, meta: BatchMeta, group_kind: str, source_role: str, target_role: str, cents: int, memo: str
) -> BatchOutcome:
    """``ledger.run`` of one money movement, refusing a ``batch_id`` already used for another one.

    Checked before the run (a committed batch never changes, so what is read stays true) and again if the
    run answers "already committed", which covers a writer that committed the same id in between.
    """
    check = (ledger.conn, meta.batch_id, meta.kind, group_kind, source_role, target_role, cents)
    try:
        _refuse_other_content(*check)
        outcome = ledger.run(meta, lambda draft: _move(draft, group_kind, source_role, target_role, cents, memo))
        if outcome.already_committed:
            _refuse_other_content(*check)
    except LedgerBatchError as exc:
        if exc.constraint == "batch_id_content_changed" and ledger.audit is not None:
            ledger.audit.append(
                "ledger_batch",
                "batch_id_refused",
                {
                    "batch_id": meta.batch_id,
                    "kind": meta.kind,
                    "group_kind": group_kind,
                    "from_role": source_role,
                    "to_role": target_role,
                    "amount": fmt_cents(cents),
                    "constraint": exc.constraint,
                },
                severity="error",
                actor=meta.caller,
            )
        raise
    return outcome


def run_hook(
    ledger: Ledger, hook: str, amount: Decimal, *, memo: str = "", caller: str = "system", batch_id: str | None = None
) -> BatchOutcome:
    """Fund a reserve from cash. Pass ``batch_id`` to make a retried or scheduled hook fund once."""
    if hook not in HOOKS:
        raise TbotError(f"hook {hook!r}: expected one of {', '.join(HOOKS)}")
    kind, role = HOOKS[hook]
    cents = _cents(amount)
    meta = BatchMeta(
        check_batch_id(batch_id) if batch_id is not None else f"hook:{hook}:{uuid.uuid4().hex[:12]}",
        "hook",
        caller,
        memo or hook,
    )
    return _run_once(ledger, meta, kind, "cash", role, cents, memo or f"{hook} {fmt_cents(cents)}")


def manual_override(
    ledger: Ledger,
    source_role: str,
    target_role: str,
    amount: Decimal,
    *,
    reason: str,
    caller: str = "ui",
    batch_id: str | None = None,
) -> BatchOutcome:
    """Reallocate between roles (rebalance, release a reserve): explicit reason required, audited."""
    roles = default_coa().role_kinds()
    for role in (source_role, target_role):
        if role not in roles:
            raise TbotError(f"role {role!r}: expected one of {', '.join(sorted(roles))}")
    if source_role == target_role:
        raise TbotError("--from and --to name the same role")
    why = require_reason(reason, "a manual override")
    cents = _cents(amount)
    meta = BatchMeta(
        check_batch_id(batch_id) if batch_id is not None else f"override:{uuid.uuid4().hex[:12]}",
        "override",
        caller,
        why,
    )
    outcome = _run_once(
        ledger, meta, "OVERRIDE", source_role, target_role, cents, f"override {source_role} -> {target_role}: {why}"
    )
    if ledger.audit is not None and not outcome.already_committed:
        ledger.audit.append(
            "ledger_batch",
            "manual_override",
            {
                "batch_id": meta.batch_id,
                "from_role": source_role,
                "to_role": target_role,
                "amount": fmt_cents(cents),
                "reason": why,
            },
            severity="warning",
            actor=audit_actor(caller),
        )
    return outcome
