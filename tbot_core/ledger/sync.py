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

A re-run is the common case (a retried CLI sync, the engine re-posting the
same fills), and naming the content means formatting and hashing every
activity.  So each sync batch also stores ``input_digest``, a cheap exact
digest of the activities as they were handed in (same order, same
spelling); a re-run whose run id and input digest match a committed batch is
answered from that batch without computing the content digest.  Anything
else (another order, ``1.50`` for ``1.5``, an older batch without a digest)
takes the full path, which decides by content as before.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from operator import attrgetter
from pathlib import Path
from typing import Any, cast

import apsw

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.ledger.activity import Activity, normalize_broker_code
from tbot_core.ledger.batch import AUDIT_CATEGORY, BatchMeta, Ledger
from tbot_core.ledger.coa import current_mapping, default_coa
from tbot_core.ledger.draft import Draft
from tbot_core.ledger.failures import LedgerBatchError, validation
from tbot_core.ledger.fifo import LotBook
from tbot_core.money import round_to_cents

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


def ingest_activities(
    ledger_db: Path,
    broker_code: str,
    activities: Sequence[Activity],
    *,
    sync_run_id: str,
    caller: str = "system",
    audit: AuditLog | None = None,
    vfs: str | None = None,
) -> SyncResult:
    broker = normalize_broker_code(broker_code)
    if (
        not isinstance(sync_run_id, str)
        or not 1 <= len(sync_run_id) <= 128
        or not sync_run_id.isprintable()
        or sync_run_id != sync_run_id.strip()
    ):
        raise TbotError("sync_run_id: expected 1-128 printable characters without leading or trailing spaces")
    source = input_digest(broker, activities)
    reason = f"broker sync {broker} ({len(activities)} activities)"
    with Ledger(ledger_db, audit=audit, vfs=vfs) as ledger:
        row = ledger.conn.execute(
            "SELECT batch_id FROM batches WHERE sync_run_id = ? AND broker_code = ? AND input_digest = ?",
            (sync_run_id, broker, source),
        ).fetchone()
        if row is not None:  # the very input of a committed run: a repeat, answered (and audited) by Ledger.run
            meta = BatchMeta(
                row[0], "sync", caller, reason, sync_run_id=sync_run_id, broker_code=broker, input_digest=source
            )
            outcome = ledger.run(meta, lambda draft: _build_named(draft, broker, _hashed(activities), meta.batch_id))
        else:
            hashed = _hashed(activities)
            meta = BatchMeta(
                f"sync:{sync_run_id}:{run_digest(broker, hashed)}",
                "sync",
                caller,
                reason,
                sync_run_id=sync_run_id,
                broker_code=broker,
                input_digest=source,
            )
            meta = _check_rerun(ledger, meta, hashed)
            outcome = ledger.run(meta, lambda draft: _build(draft, broker, hashed))
            if outcome.already_committed:  # another writer committed this run id between the check and the lock
                _check_rerun(ledger, meta, hashed)
    return SyncResult(
        sync_run_id,
        meta.batch_id,
        outcome.commit_state,
        outcome.group_count,
        outcome.skipped_known,
        outcome.row_count,
        outcome.already_committed,
    )


def _hashed(activities: Sequence[Activity]) -> list[tuple[Activity, str, str]]:
    """(activity, time text, content hash) in time order: each formatted and hashed once per run."""
    hashed = []
    for act in sorted(activities, key=attrgetter("timestamp_utc")):
        when = act.time_text()
        hashed.append((act, when, act.content_hash(when)))
    return hashed


_TEXT_FIELDS = tuple(map(attrgetter, ("fitid", "type", "symbol", "side")))
_NUMBER_FIELDS = tuple(map(attrgetter, ("qty", "price", "amount", "fee")))
_WHEN = attrgetter("timestamp_utc")
# ``datetime.__reduce__()`` is ``(datetime, (state_bytes[, tzinfo]))``; typeshed gives it object's ``str | tuple``.
_REDUCE = cast(Callable[[datetime], tuple[Any, tuple[Any, ...]]], datetime.__reduce__)


def input_digest(broker: str, activities: Sequence[Activity]) -> str:
    """SHA-256 of the activities exactly as handed in: equal digests mean equal activities in the same order.

    Field by field over all activities, with C-level ``map``/``join`` (a
    few microseconds per activity, against the content hash's formatting of
    every number and time).  It is injective: the text fields are printable
    (``Activity`` refuses control characters, so never the separators
    U+001E/U+001F), ``str()`` of a Decimal is exact, and a time is its
    10-byte pickle state (year to microsecond; every ``Activity`` time is
    UTC).  It is a shortcut only: a different digest just means the full
    content comparison runs.
    """
    h = hashlib.sha256(b"tbot-sync-input/1\x1e%d\x1e" % len(activities) + broker.encode())
    for field in _TEXT_FIELDS:
        h.update(("\x1e" + "\x1f".join(map(field, activities))).encode())
    for field in _NUMBER_FIELDS:
        h.update(("\x1e" + "\x1f".join(map(str, map(field, activities)))).encode())
    try:
        times = b"\x1ep" + b"".join([state[1][0] for state in map(_REDUCE, map(_WHEN, activities))])
    except (TypeError, IndexError):
        times = b""
    if len(times) != 2 + 10 * len(
        activities
    ):  # a datetime that pickles otherwise: the ISO text instead (slower, as exact)
        times = b"\x1ei" + "\x1f".join(map(datetime.isoformat, map(_WHEN, activities))).encode()
    h.update(times)
    return h.hexdigest()


def _build_named(draft: Draft, broker: str, hashed: list[tuple[Activity, str, str]], batch_id: str) -> None:
    """The shortcut found ``batch_id`` committed but the lock found it gone (only a tampered file): post it only if
    the content still names it, so a shortcut can never book activities under another run's name."""
    if f"sync:{draft.meta.sync_run_id}:{run_digest(broker, hashed)}" != batch_id:
        raise validation(
            "sync_input_digest",
            f"batch {batch_id} matched this input but is no longer committed; run `tbot ledger check`",
        )
    _build(draft, broker, hashed)


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
    row = ledger.conn.execute(
        "SELECT batch_id, broker_code FROM batches WHERE sync_run_id = ?", (meta.sync_run_id,)
    ).fetchone()
    if row is None or row[0] == meta.batch_id:
        return meta
    stored, broker = row
    if broker != meta.broker_code:
        problem = (
            f"sync_run_id {meta.sync_run_id} was already used for broker {broker}, not {meta.broker_code}; "
            "nothing was added",
            "sync_run_id_broker",
        )
    elif stored == f"sync:{meta.sync_run_id}" and _all_booked(ledger, meta.broker_code or "", hashed):
        return replace(meta, batch_id=stored)
    else:
        problem = (
            f"sync_run_id {meta.sync_run_id} was already committed with different content (batch {stored}); "
            "nothing was added",
            "sync_run_id_content_changed",
        )
    if ledger.audit is not None:
        ledger.audit.append(
            AUDIT_CATEGORY,
            "sync_run_refused",
            {
                "sync_run_id": meta.sync_run_id,
                "broker_code": meta.broker_code,
                "committed_batch_id": stored,
                "refused_batch_id": meta.batch_id,
                "constraint": problem[1],
                "activities": len(hashed),
            },
            severity="error",
            actor=meta.caller,
        )
    raise LedgerBatchError(
        problem[0],
        category="validation",
        constraint=problem[1],
        hint="give new activities a new --sync-run-id (or omit it: the default is derived from the content)",
    )


def _all_booked(ledger: Ledger, broker: str, hashed: list[tuple[Activity, str, str]]) -> bool:
    known = _known_hashes(ledger.conn, broker, list({act.fitid for act, _, _ in hashed}))
    return all(known.get(act.fitid) == digest for act, _, digest in hashed)


def _known_hashes(conn: apsw.Connection, broker: str, fitids: list[str]) -> dict[str, str]:
    known: dict[str, str] = {}
    for start in range(0, len(fitids), _LOOKUP_CHUNK):
        chunk = fitids[start : start + _LOOKUP_CHUNK]
        marks = ",".join("?" * len(chunk))
        known.update(
            conn.execute(
                f"SELECT fitid, content_hash FROM groups WHERE broker_code = ? AND fitid IN ({marks})", (broker, *chunk)
            )
        )
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
                raise LedgerBatchError(
                    f"fitid {act.fitid} of broker {broker} was already booked with different content; run rolled back",
                    category="validation",
                    constraint="fitid_content_changed",
                )
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
        fee = round_to_cents(act.fee)
        if act.type == "FILL":
            gross = round_to_cents(act.amount)
            if act.side == "buy":
                pairs: tuple[tuple[str, int], ...] = (
                    (self.securities, -gross),
                    (self.fees, fee),
                    (self.cash, gross - fee),
                )
                gid = draft.add_signed_group(
                    "FILL",
                    when,
                    f"buy {act.qty!s} {act.symbol} @ {act.price!s}",
                    pairs,
                    act.symbol,
                    broker,
                    act.fitid,
                    digest,
                )
                self.book.buy(gid, act.symbol, act.qty, -gross)
                return
            cost = self.book.sell(draft.peek_group_id(), act.symbol, act.qty, act.fitid)
            gain = gross - cost
            pairs = (
                (self.cash, gross - fee),
                (self.fees, fee),
                (self.securities, -cost),
                (self.gain, -gain) if gain > 0 else (self.loss, -gain),
            )
            draft.add_signed_group(
                "FILL",
                when,
                f"sell {act.qty!s} {act.symbol} @ {act.price!s}",
                pairs,
                act.symbol,
                broker,
                act.fitid,
                digest,
            )
            return
        amount = round_to_cents(act.amount)
        if act.type == "FEE":
            pairs = ((self.cash, amount - fee), (self.fees, fee - amount))
        else:
            pairs = ((self.cash, amount - fee), (self.fees, fee), (self.roles[_INCOME_ROLE[act.type]], -amount))
        draft.add_signed_group(
            act.type, when, f"{act.type.lower()} {act.symbol}".strip(), pairs, act.symbol, broker, act.fitid, digest
        )
