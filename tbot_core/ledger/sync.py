"""Broker sync: activities in, one atomic run out.

``ingest_activities`` is the single path for the CLI file sync, the engine's
paper fills and the broker pull.  A run is one batch (``batch_id`` is
``sync:<sync_run_id>``): repeating a committed run adds nothing; a fitid the
ledger already holds with the same content is skipped and counted; the same
fitid with different content fails the whole run.  Activities are posted in
time order so FIFO lots are relieved in the order trades happened.
"""

from __future__ import annotations

import re
from operator import attrgetter
from dataclasses import dataclass
from pathlib import Path
from typing import Sequence

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.ledger.activity import Activity
from tbot_core.ledger.batch import BatchMeta, Draft, Ledger
from tbot_core.ledger.coa import current_mapping, default_coa
from tbot_core.ledger.failures import LedgerBatchError, validation
from tbot_core.ledger.fifo import LotBook
from tbot_core.ledger.money import to_cents

_BROKER_RE = re.compile(r"^[A-Z0-9_]{1,16}$")
_INCOME_ROLE = {"DIVIDEND": "dividend_income", "INTEREST": "interest_income", "TRANSFER": "owner_equity"}
_LOOKUP_CHUNK = 500


@dataclass(frozen=True)
class SyncResult:
    sync_run_id: str
    batch_id: str
    commit_state: str  # committed (a rolled-back run raises LedgerBatchError instead)
    posted: int  # activities booked by the run
    skipped_known: int  # activities whose fitid was already booked with the same content
    row_count: int  # legs written by the run
    already_committed: bool  # True when this sync_run_id was committed before: nothing was added now,
    #                          and the counts above are those of the run as first committed


def ingest_activities(ledger_db: Path, broker_code: str, activities: Sequence[Activity], *, sync_run_id: str,
                      caller: str = "system", audit: AuditLog | None = None, vfs: str | None = None) -> SyncResult:
    broker = broker_code.strip().upper()
    if not _BROKER_RE.match(broker):
        raise TbotError(f"broker code {broker_code!r}: expected 1-16 letters, digits or _")
    if not 1 <= len(sync_run_id) <= 128 or not sync_run_id.isprintable():
        raise TbotError("sync_run_id: expected 1-128 printable characters")
    meta = BatchMeta(f"sync:{sync_run_id}", "sync", caller, f"broker sync {broker} ({len(activities)} activities)",
                     sync_run_id=sync_run_id, broker_code=broker)
    ordered = sorted(activities, key=attrgetter("timestamp_utc"))
    with Ledger(ledger_db, audit=audit, vfs=vfs) as ledger:
        outcome = ledger.run(meta, lambda draft: _build(draft, broker, ordered))
    return SyncResult(sync_run_id, meta.batch_id, outcome.commit_state, outcome.group_count, outcome.skipped_known,
                      outcome.row_count, outcome.already_committed)


def _known_hashes(draft: Draft, broker: str, fitids: list[str]) -> dict[str, str]:
    known: dict[str, str] = {}
    for start in range(0, len(fitids), _LOOKUP_CHUNK):
        chunk = fitids[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        known.update(draft.conn.execute(f"SELECT fitid, content_hash FROM groups WHERE broker_code = ? AND fitid IN ({marks})",
                                        (broker, *chunk)))
    return known


def _build(draft: Draft, broker: str, activities: list[Activity]) -> None:
    roles = current_mapping(draft.conn)
    missing = [role for role in default_coa().roles if role not in roles]
    if missing:
        raise validation("coa_role_missing", f"role {missing[0]} has no account; run `tbot ledger check`")
    known = _known_hashes(draft, broker, list({act.fitid for act in activities}))
    post = _Poster(draft, LotBook(draft, broker), roles, broker)
    for act in activities:
        when = act.time_text()
        digest = act.content_hash(when)
        prior = known.get(act.fitid)
        if prior is not None:
            if prior != digest:
                raise LedgerBatchError(f"fitid {act.fitid} of broker {broker} was already booked with different content; "
                                       "run rolled back", category="validation", constraint="fitid_content_changed")
            draft.skipped_known += 1
            continue
        known[act.fitid] = digest
        post(act, when, digest)


class _Poster:
    """Maps one activity to its balanced group (and FIFO lots); the accounts are resolved once per run."""

    def __init__(self, draft: Draft, book: LotBook, roles: dict[str, str], broker: str) -> None:
        self.draft, self.book, self.roles, self.broker = draft, book, roles, broker
        self.cash, self.fees, self.securities = roles["cash"], roles["fees"], roles["securities"]
        self.gain, self.loss = roles["realized_gain"], roles["realized_loss"]

    def __call__(self, act: Activity, when: str, digest: str) -> None:
        draft, broker = self.draft, self.broker
        fee = to_cents(act.fee)
        if act.type == "FILL":
            gross = to_cents(act.amount)
            if act.side == "buy":
                pairs = ((self.securities, -gross), (self.fees, fee), (self.cash, gross - fee))
                gid = draft.add_signed_group("FILL", when, f"buy {act.qty!s} {act.symbol} @ {act.price!s}", pairs, act.symbol,
                                             broker, act.fitid, digest)
                self.book.buy(gid, act.symbol, act.qty, -gross)
                return
            cost = self.book.sell(draft.peek_group_id(), act.symbol, act.qty, act.fitid)
            gain = gross - cost
            pairs = ((self.cash, gross - fee), (self.fees, fee), (self.securities, -cost),
                     (self.gain, -gain) if gain > 0 else (self.loss, -gain))
            draft.add_signed_group("FILL", when, f"sell {act.qty!s} {act.symbol} @ {act.price!s}", pairs, act.symbol, broker,
                                   act.fitid, digest)
            return
        amount = to_cents(act.amount)
        if act.type == "FEE":
            pairs = ((self.cash, amount - fee), (self.fees, fee - amount))
        else:
            pairs = ((self.cash, amount - fee), (self.fees, fee), (self.roles[_INCOME_ROLE[act.type]], -amount))
        draft.add_signed_group(act.type, when, f"{act.type.lower()} {act.symbol}".strip(), pairs, act.symbol, broker,
                               act.fitid, digest)
