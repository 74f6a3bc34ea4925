"""General postings: balanced groups given as explicit legs, and reversing entries.

``post_groups`` is what a caller uses when it already knows the accounts (the
benchmark, tests, and any future module); holdings hooks and the broker sync
build on the same batch runner.  Corrections are never edits: ``reverse_group``
posts the mirror image of a group and links it, once, to the original.
"""

from __future__ import annotations

from typing import NamedTuple, Sequence

from tbot_core.errors import TbotError
from tbot_core.ledger.batch import BatchMeta, BatchOutcome, Draft, Ledger
from tbot_core.ledger.failures import validation
from tbot_core.timeutil import iso_z


class GroupSpec(NamedTuple):
    kind: str
    effective_utc: str
    memo: str
    legs: Sequence[tuple[str, int, int]]  # (account_code, debit_cents, credit_cents)
    symbol: str = ""
    broker_code: str | None = None
    fitid: str | None = None
    content_hash: str | None = None


def post_groups(ledger: Ledger, batch_id: str, groups: Sequence[GroupSpec], *, caller: str = "system",
                reason: str = "posting") -> BatchOutcome:
    def build(draft: Draft) -> None:
        add = draft.add_group
        for g in groups:
            add(g.kind, g.effective_utc, g.memo, g.legs, symbol=g.symbol, broker_code=g.broker_code, fitid=g.fitid,
                content_hash=g.content_hash)

    return ledger.run(BatchMeta(batch_id, "posting", caller, reason), build)


def require_reason(reason: str, what: str) -> str:
    text = " ".join((reason or "").split())
    if len(text) < 3:
        raise TbotError(f"--reason: {what} needs an explicit reason (3+ characters)")
    return text


def reverse_group(ledger: Ledger, group_id: int, *, reason: str, caller: str = "ui") -> BatchOutcome:
    meta = BatchMeta(f"reversal:{group_id}", "reversal", caller, require_reason(reason, "a reversing entry"))

    def build(draft: Draft) -> None:
        conn = draft.conn
        row = conn.execute("SELECT kind, symbol FROM groups WHERE group_id = ?", (group_id,)).fetchone()
        if row is None:
            raise validation("unknown_group", f"group {group_id} does not exist")
        if row[0] == "REVERSAL":
            raise validation("reverse_reversal", f"group {group_id} is itself a reversal; post the original entry again instead")
        relieved = conn.execute("SELECT count(*) FROM lot_reliefs lr JOIN lots l ON l.lot_id = lr.lot_id WHERE l.group_id = ? "
                                "AND NOT EXISTS (SELECT 1 FROM groups r WHERE r.reverses_group_id = lr.group_id)",
                                (group_id,)).fetchone()[0]
        if relieved:
            raise validation("lot_already_sold", f"group {group_id} opened a lot that later sells relieved; reverse those sells first")
        legs = [(account, credit, debit) for account, debit, credit in
                conn.execute("SELECT account_code, debit_cents, credit_cents FROM legs WHERE group_id = ? ORDER BY leg_no", (group_id,))]
        draft.add_group("REVERSAL", iso_z(), f"reversal of group {group_id}: {meta.reason}", legs, symbol=row[1],
                        reverses=group_id)

    return ledger.run(meta, build)
