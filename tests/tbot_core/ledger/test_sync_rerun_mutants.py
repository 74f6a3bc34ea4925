"""Broker sync, exact (mutmut sees these): every answer to a re-used run id: a repeat, a vanished batch, other content,
another broker, a legacy run, another writer first.

Real ledger files, the real ``Ledger`` and ``AuditLog``; the digests are recomputed (``sync_kit``) from their
written specification (the module docstrings), so a change of format is a visible decision, not an accident.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_core.audit import AuditLog
from tbot_core.ledger import sync
from tbot_core.ledger.activity import Activity
from tbot_core.ledger.batch import BatchMeta, Ledger
from tbot_core.ledger.sync import ingest_activities, input_digest, run_digest

from .faultvfs import FaultVFS
from .helpers import cash
from .sync_kit import BUY, SELL_GAIN, legs_of, query, refusal, spec_input_digest, spec_run_digest


# -- re-runs ------------------------------------------------------------------------------------------------------
def test_a_rerun_of_a_committed_run_adds_nothing_and_reports_the_first_runs_counts(books):
    acts = [cash("dep", "TRANSFER", "1000"), BUY]
    first = ingest_activities(books, "PAPER", acts, sync_run_id="r")
    for again_acts in (acts, list(reversed(acts))):  # the same input (shortcut), then the same content (full path)
        again = ingest_activities(books, "paper", again_acts, sync_run_id="r")
        assert again == replace(first, already_committed=True)
    assert query(books, "SELECT count(*) FROM batches WHERE sync_run_id = 'r'") == [(1,)]


@pytest.mark.parametrize("reorder", [False, True], ids=["same-input", "same-content"])
def test_a_rerun_is_audited_as_a_repeat_of_the_named_run(books, tmp_path, reorder):
    acts = [cash("dep", "TRANSFER", "1000"), BUY]
    first = ingest_activities(books, "PAPER", acts, sync_run_id="r")
    with AuditLog(tmp_path / "audit.db") as audit:
        ingest_activities(books, "PAPER", acts[::-1] if reorder else acts, sync_run_id="r", caller="ui", audit=audit)
        [event] = audit.tail(5)
    assert (event.event, event.actor) == ("batch_repeat", "ui")
    assert event.context_dict() == {
        "batch_id": first.batch_id,
        "sync_run_id": "r",
        "broker_code": "PAPER",
        "kind": "sync",
        "caller": "ui",
        "reason": "broker sync PAPER (2 activities)",
        "row_count": 0,
        "note": "already committed; nothing added",
    }


def _delete_batch(books: Path, batch_id: str) -> None:
    """Remove a committed batch whole behind the program's back (plain sqlite3, guard triggers dropped)."""
    conn = sqlite3.connect(books, isolation_level=None)
    try:
        for table in ("legs", "groups", "batches"):
            conn.execute(f"DROP TRIGGER {table}_no_delete")
        conn.execute("DELETE FROM legs WHERE group_id IN (SELECT group_id FROM groups WHERE batch_id = ?)", (batch_id,))
        conn.execute("DELETE FROM groups WHERE batch_id = ?", (batch_id,))
        conn.execute("DELETE FROM batches WHERE batch_id = ?", (batch_id,))
    finally:
        conn.close()


def test_a_run_whose_batch_vanishes_between_the_shortcut_and_the_lock_is_posted_again_under_its_name(
    books, monkeypatch
):
    acts = [cash("dep", "TRANSFER", "1000"), cash("int", "INTEREST", "2", minutes=1)]
    first = ingest_activities(books, "PAPER", acts, sync_run_id="r")
    real = sync.BatchMeta

    def tampered_at_lookup(batch_id, *args, **kwargs):
        if batch_id == first.batch_id:
            _delete_batch(books, batch_id)  # the shortcut already found it; the lock will not
        return real(batch_id, *args, **kwargs)

    monkeypatch.setattr(sync, "BatchMeta", tampered_at_lookup)
    again = ingest_activities(books, "PAPER", acts, sync_run_id="r")
    assert again == replace(first, already_committed=False)
    assert [legs_of(books, a.fitid) for a in acts] == [
        [("1000", 100000, 0), ("3000", 0, 100000)],
        [
            ("1000", 200, 0),
            ("4200", 0, 200),
        ],
    ]


def test_a_run_id_reused_for_other_content_or_another_broker_is_refused_and_audited(books, tmp_path):
    ingest_activities(books, "PAPER", [BUY], sync_run_id="r")
    with AuditLog(tmp_path / "audit.db") as audit:
        changed = refusal(lambda: ingest_activities(books, "PAPER", [SELL_GAIN], sync_run_id="r", audit=audit))
        other = refusal(lambda: ingest_activities(books, "IBKR", [BUY], sync_run_id="r", caller="ui", audit=audit))
        rows = audit.tail(10, category="ledger_batch", search="sync_run_refused")
    stored = f"sync:r:{spec_run_digest('PAPER', [BUY])}"
    assert changed.constraint == "sync_run_id_content_changed" and changed.category == "validation"
    assert (
        str(changed)
        == f"sync_run_id r was already committed with different content (batch {stored}); nothing was added"
    )
    assert (
        changed.hint == "give new activities a new --sync-run-id (or omit it: the default is derived from the content)"
    )
    assert other.constraint == "sync_run_id_broker"
    assert str(other) == "sync_run_id r was already used for broker PAPER, not IBKR; nothing was added"
    assert [(r.event, r.severity, r.actor) for r in rows] == [
        ("sync_run_refused", "error", "system"),
        ("sync_run_refused", "error", "ui"),
    ]
    assert rows[0].context_dict() == {
        "sync_run_id": "r",
        "broker_code": "PAPER",
        "committed_batch_id": stored,
        "refused_batch_id": f"sync:r:{spec_run_digest('PAPER', [SELL_GAIN])}",
        "constraint": "sync_run_id_content_changed",
        "activities": 1,
    }
    assert rows[1].context_dict()["broker_code"] == "IBKR"
    assert query(books, "SELECT count(*) FROM groups WHERE fitid = 's1'") == [(0,)]


def test_a_refused_run_id_without_an_audit_log_still_raises(books):
    ingest_activities(books, "PAPER", [BUY], sync_run_id="r")
    assert refusal(lambda: ingest_activities(books, "PAPER", [SELL_GAIN], sync_run_id="r")).constraint == (
        "sync_run_id_content_changed"
    )


def _legacy_run(books: Path, run_id: str, acts: list[Activity]) -> None:
    """A run committed before the content digest was part of the batch id: ``sync:<run id>``, no input digest."""
    with Ledger(books) as ledger:
        meta = BatchMeta(f"sync:{run_id}", "sync", sync_run_id=run_id, broker_code="PAPER")
        ledger.run(meta, lambda draft: sync._build(draft, "PAPER", sync._hashed(acts)))


def test_a_rerun_of_a_legacy_run_whose_activities_are_all_booked_is_a_repeat_of_it(books):
    acts = [cash("d", "TRANSFER", "1000"), BUY]
    _legacy_run(books, "old", acts)
    again = ingest_activities(books, "PAPER", acts, sync_run_id="old")
    assert (again.batch_id, again.already_committed, again.posted, again.row_count) == ("sync:old", True, 2, 5)


def test_a_rerun_of_a_legacy_run_with_anything_new_is_refused(books):
    _legacy_run(books, "old", [BUY])
    error = refusal(lambda: ingest_activities(books, "PAPER", [BUY, SELL_GAIN], sync_run_id="old"))
    assert error.constraint == "sync_run_id_content_changed" and "(batch sync:old)" in str(error)
    changed = refusal(lambda: ingest_activities(books, "PAPER", [replace(BUY, fee=Decimal(5))], sync_run_id="old"))
    assert changed.constraint == "sync_run_id_content_changed"


def test_a_legacy_run_is_checked_against_all_its_activities_in_chunks(books):
    many = [cash(f"i{n:04d}", "INTEREST", "0.01", minutes=n) for n in range(1001)]
    _legacy_run(books, "old", many)
    assert ingest_activities(books, "PAPER", many, sync_run_id="old").already_committed


def test_another_writer_committing_other_content_under_the_run_id_first_is_refused_not_reported_done(
    books, monkeypatch
):
    real = sync._check_rerun
    raced = []

    def check_then_lose_the_race(ledger, meta, hashed):
        checked = real(ledger, meta, hashed)
        if not raced:
            raced.append(None)
            raced[0] = ingest_activities(books, "PAPER", [SELL_GAIN, BUY], sync_run_id="r")  # the other writer
        return checked

    monkeypatch.setattr(sync, "_check_rerun", check_then_lose_the_race)
    with AuditLog(books.with_name("audit.db")) as audit:
        error = refusal(lambda: ingest_activities(books, "PAPER", [BUY], sync_run_id="r", audit=audit))
        refused = audit.tail(5, search="sync_run_refused")
    assert error.constraint == "sync_run_id_content_changed" and raced[0].posted == 2
    assert [e.context_dict()["activities"] for e in refused] == [1]


def test_a_shortcut_to_a_batch_no_longer_committed_posts_only_under_the_name_its_content_gives(books):
    hashed = sync._hashed([BUY])
    named = f"sync:r:{spec_run_digest('PAPER', [BUY])}"
    with Ledger(books) as ledger:
        meta = BatchMeta("sync:r:" + "0" * 24, "sync", sync_run_id="r", broker_code="PAPER")
        error = refusal(lambda: ledger.run(meta, lambda d: sync._build_named(d, "PAPER", hashed, meta.batch_id)))
        assert error.constraint == "sync_input_digest"
        assert str(error) == (
            f"ledger validation failed (sync_input_digest): batch {meta.batch_id} matched this input but is no "
            "longer committed; run `tbot ledger check`"
        )
        meta = BatchMeta(named, "sync", sync_run_id="r", broker_code="PAPER")
        assert ledger.run(meta, lambda d: sync._build_named(d, "PAPER", hashed, named)).group_count == 1


def test_a_sync_writes_through_the_given_vfs(books):
    vfs = FaultVFS("sync_vfs_probe")
    try:
        ingest_activities(books, "PAPER", [BUY], sync_run_id="r", vfs=vfs.name)
        assert vfs.counts["write"] > 0
    finally:
        vfs.unregister()


# -- digests ------------------------------------------------------------------------------------------------------
def test_the_run_digest_names_the_content_whatever_the_order_or_spelling():
    acts = [BUY, SELL_GAIN, cash("d", "TRANSFER", "1000")]
    hashed = sync._hashed(acts)
    assert [a.fitid for a, _, _ in hashed] == ["d", "b1", "s1"], "time order"
    assert [(when, digest) for a, when, digest in hashed] == [(a.time_text(), a.content_hash()) for a, _, _ in hashed]
    assert run_digest("PAPER", hashed) == spec_run_digest("PAPER", acts)
    respelled = [replace(a, price=a.price.quantize(Decimal("0.001"))) for a in reversed(acts)]
    assert run_digest("PAPER", sync._hashed(respelled)) == run_digest("PAPER", hashed)
    assert run_digest("IBKR", hashed) != run_digest("PAPER", hashed)


def test_the_input_digest_follows_its_specification():
    acts = [BUY, SELL_GAIN, cash("d", "TRANSFER", "1000", minutes=9)]
    assert input_digest("PAPER", acts) == spec_input_digest("PAPER", acts)
    assert input_digest("PAPER", []) == spec_input_digest("PAPER", [])
