"""Broker sync: activities in, one atomic run out.

``ingest_activities`` is the single path for the CLI file sync, the engine's
paper fills and the broker pull.  A run is one batch whose id names the run
and its content (``sync:<sync_run_id>:<content digest>``): repeating a
committed run with the same activities adds nothing, while reusing a run id
for different activities is refused, since answering "already committed"
would silently drop them.  A fitid the ledger already holds with the same
content is skipped and counted; the same fitid with different content fails
the whole run.  Activities are posted in time order so FIFO lots are relieved
in the order trades happened.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, replace
from operator import attrgetter
from pathlib import Path
from typing import Sequence

import apsw

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.ledger.activity import Activity, normalize_broker_code
from tbot_core.ledger.batch import AUDIT_CATEGORY, BatchMeta, Draft, Ledger
from tbot_core.ledger.coa import current_mapping, default_coa
from tbot_core.ledger.failures import LedgerBatchError, validation
from tbot_core.ledger.fifo import LotBook
from tbot_core.ledger.money import to_cents

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
    broker = normalize_broker_code(broker_code)
    if (not isinstance(sync_run_id, str) or not 1 <= len(sync_run_id) <= 128 or not sync_run_id.isprintable()
            or sync_run_id != sync_run_id.strip()):
        raise TbotError("sync_run_id: expected 1-128 printable characters without leading or trailing spaces")
    hashed = []  # (activity, time text, content hash) in time order: each formatted and hashed once per run
    for act in sorted(activities, key=attrgetter("timestamp_utc")):
        when = act.time_text()
        hashed.append((act, when, act.content_hash(when)))
    meta = BatchMeta(f"sync:{sync_run_id}:{run_digest(broker, hashed)}", "sync", caller,
                     f"broker sync {broker} ({len(activities)} activities)", sync_run_id=sync_run_id, broker_code=broker)
    with Ledger(ledger_db, audit=audit, vfs=vfs) as ledger:
        meta = _check_rerun(ledger, meta, hashed)
        outcome = ledger.run(meta, lambda draft: _build(draft, broker, hashed))
        if outcome.already_committed:  # another writer committed this run id between the check and the lock
            _check_rerun(ledger, meta, hashed)
    return SyncResult(sync_run_id, meta.batch_id, outcome.commit_state, outcome.group_count, outcome.skipped_known,
                      outcome.row_count, outcome.already_committed)


def run_digest(broker: str, hashed: Sequence[tuple[Activity, str, str]]) -> str:
    """Names a run's content: the same activities give the same digest however the export spelled or ordered them."""
    lines = sorted(f"{act.fitid}\x1f{digest}" for act, _, digest in hashed)
    return hashlib.sha256("\x1e".join([broker, *lines]).encode("utf-8")).hexdigest()[:24]


def _check_rerun(ledger: Ledger, meta: BatchMeta, hashed: list[tuple[Activity, str, str]]) -> BatchMeta:
    """The batch to run for ``meta``: itself, or the committed legacy batch of the same run and content.

    A committed run whose id matches but whose content digest does not is refused here (and audited),
    before ``Ledger.run`` would answer it as an idempotent repeat.  Batches from before the digest was
    part of the id (``sync:<run id>``) carry no digest; for those a rerun counts as a repeat only if every
    activity is already booked with the same content, i.e. answering "nothing added" drops nothing.
    """
    row = ledger.conn.execute("SELECT batch_id, broker_code FROM batches WHERE sync_run_id = ?", (meta.sync_run_id,)).fetchone()
    if row is None or row[0] == meta.batch_id:
        return meta
    stored, broker = row
    if broker != meta.broker_code:
        problem = (f"sync_run_id {meta.sync_run_id} was already used for broker {broker}, not {meta.broker_code}; "
                   "nothing was added", "sync_run_id_broker")
    elif stored == f"sync:{meta.sync_run_id}" and _all_booked(ledger, meta.broker_code or "", hashed):
        return replace(meta, batch_id=stored)
    else:
        problem = (f"sync_run_id {meta.sync_run_id} was already committed with different content (batch {stored}); "
                   "nothing was added", "sync_run_id_content_changed")
    if ledger.audit is not None:
        ledger.audit.append(AUDIT_CATEGORY, "sync_run_refused", {
            "sync_run_id": meta.sync_run_id, "broker_code": meta.broker_code, "committed_batch_id": stored,
            "refused_batch_id": meta.batch_id, "constraint": problem[1], "activities": len(hashed)},
            severity="error", actor=meta.caller)
    raise LedgerBatchError(problem[0], category="validation", constraint=problem[1],
                           hint="give new activities a new --sync-run-id (or omit it: the default is derived from the content)")


def _all_booked(ledger: Ledger, broker: str, hashed: list[tuple[Activity, str, str]]) -> bool:
    known = _known_hashes(ledger.conn, broker, list({act.fitid for act, _, _ in hashed}))
    return all(known.get(act.fitid) == digest for act, _, digest in hashed)


def _known_hashes(conn: apsw.Connection, broker: str, fitids: list[str]) -> dict[str, str]:
    known: dict[str, str] = {}
    for start in range(0, len(fitids), _LOOKUP_CHUNK):
        chunk = fitids[start:start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        known.update(conn.execute(f"SELECT fitid, content_hash FROM groups WHERE broker_code = ? AND fitid IN ({marks})",
                                  (broker, *chunk)))
    return known


def _build(draft: Draft, broker: str, hashed: list[tuple[Activity, str, str]]) -> None:
    roles = current_mapping(draft.conn)
    missing = [role for role in default_coa().roles if role not in roles]
    if missing:
        raise validation("coa_role_missing", f"role {missing[0]} has no account; run `tbot ledger check`")
    known = _known_hashes(draft.conn, broker, list({act.fitid for act, _, _ in hashed}))
    post = _Poster(draft, LotBook(draft, broker), roles, broker)
    for act, when, digest in hashed:
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
