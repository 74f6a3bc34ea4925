"""Holdings hooks: float top-up, tax reserve, payroll, reinvest — and the manual override.

Hooks only ever move money *from cash into* a reserve; once set aside it is
never reallocated by a hook.  Moving money between any other pair of roles
(rebalancing, releasing a reserve) is a manual override: it needs an explicit
reason, is its own batch kind, and is audited with warning severity.  Every
hook checks the source balance first so a reserve can never be funded with
money the books do not hold.
"""

from __future__ import annotations

import uuid
from decimal import Decimal

from tbot_core.errors import TbotError
from tbot_core.ledger.batch import BatchMeta, BatchOutcome, Draft, Ledger, signed_legs
from tbot_core.ledger.coa import current_mapping, default_coa
from tbot_core.ledger.failures import validation
from tbot_core.ledger.money import fmt_cents, from_cents, to_cents
from tbot_core.ledger.posting import require_reason
from tbot_core.timeutil import iso_z

HOOKS = {  # hook name -> (group kind, role funded from cash)
    "float_topup": ("FLOAT_TOPUP", "float"),
    "tax_reserve": ("TAX_RESERVE", "tax_reserve"),
    "payroll": ("PAYROLL", "payroll_reserve"),
    "reinvest": ("REINVEST", "reinvest_reserve"),
}


def _cents(amount: Decimal) -> int:
    if not isinstance(amount, Decimal) or not amount.is_finite() or amount <= 0:
        raise TbotError("amount: expected a positive decimal such as 250.00")
    cents = to_cents(amount)
    if from_cents(cents) != amount:
        raise TbotError("amount: expected whole cents (at most two decimal places)")
    return cents


def _move(draft: Draft, kind: str, source_role: str, target_role: str, cents: int, memo: str) -> None:
    roles = current_mapping(draft.conn)
    for role in (source_role, target_role):
        if role not in roles:
            raise validation("coa_role_missing", f"role {role} has no account")
    source = roles[source_role]
    (balance,) = draft.conn.execute("SELECT coalesce(sum(debit_cents - credit_cents), 0) FROM legs WHERE account_code = ?",
                                    (source,)).fetchone()
    if default_coa().role_kinds()[source_role] == "asset" and balance < cents:
        raise validation("insufficient_balance", f"{source_role} ({source}) holds {fmt_cents(balance)}, "
                                                 f"cannot move {fmt_cents(cents)}")
    draft.add_group(kind, iso_z(), memo, signed_legs([(roles[target_role], cents), (source, -cents)]))


def run_hook(ledger: Ledger, hook: str, amount: Decimal, *, memo: str = "", caller: str = "system",
             batch_id: str | None = None) -> BatchOutcome:
    """Fund a reserve from cash. Pass ``batch_id`` to make a scheduled hook idempotent."""
    if hook not in HOOKS:
        raise TbotError(f"hook {hook!r}: expected one of {', '.join(HOOKS)}")
    kind, role = HOOKS[hook]
    cents = _cents(amount)
    meta = BatchMeta(batch_id or f"hook:{hook}:{uuid.uuid4().hex[:12]}", "hook", caller, memo or hook)
    return ledger.run(meta, lambda draft: _move(draft, kind, "cash", role, cents, memo or f"{hook} {fmt_cents(cents)}"))


def manual_override(ledger: Ledger, source_role: str, target_role: str, amount: Decimal, *, reason: str,
                    caller: str = "ui") -> BatchOutcome:
    """Reallocate between roles (rebalance, release a reserve): explicit reason required, audited."""
    roles = default_coa().role_kinds()
    for role in (source_role, target_role):
        if role not in roles:
            raise TbotError(f"role {role!r}: expected one of {', '.join(sorted(roles))}")
    if source_role == target_role:
        raise TbotError("--from and --to name the same role")
    why = require_reason(reason, "a manual override")
    cents = _cents(amount)
    meta = BatchMeta(f"override:{uuid.uuid4().hex[:12]}", "override", caller, why)
    outcome = ledger.run(meta, lambda draft: _move(draft, "OVERRIDE", source_role, target_role, cents,
                                                   f"override {source_role} -> {target_role}: {why}"))
    if ledger.audit is not None:
        ledger.audit.append("ledger_batch", "manual_override", {"batch_id": meta.batch_id, "from_role": source_role,
                            "to_role": target_role, "amount": fmt_cents(cents), "reason": why}, severity="warning", actor=caller)
    return outcome
