"""The ledger's write path, exact (mutmut sees these): what a committed batch writes and answers, how a repeat is
answered, and what a refused batch leaves behind (nothing, one telemetry row and one audit event).

Real ledger files, the real ``Ledger`` and ``AuditLog``; the hash chain is re-verified from the file after each
commit, so a wrongly hashed or wrongly inserted batch shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.ledger.batch import BatchMeta, BatchOutcome, Ledger
from tbot_core.ledger.draft import Draft
from tbot_core.ledger.failures import LedgerBatchError

from .batch_kit import PAIR, chain_problem, posting, query, refusal, run
from .faultvfs import FaultVFS
from .helpers import EFFECTIVE


# -- committing -----------------------------------------------------------------------------------------------------
def test_a_committed_batch_is_sealed_answered_and_audited(books, audit):
    meta = BatchMeta("s1", "sync", "ui", "nightly", sync_run_id="run-1", broker_code="PAPER", input_digest="d" * 64)

    def build(draft: Draft) -> None:
        draft.add_group("FILL", EFFECTIVE, "x", PAIR, broker_code="PAPER", fitid="F1")
        draft.skipped_known = 3

    outcome = run(books, meta, build, audit)
    assert outcome == BatchOutcome(
        "s1", "run-1", "committed", 2, 1, outcome.group_ids, 3, False, outcome.started_utc, outcome.completed_utc
    )
    assert len(outcome.group_ids) == 1 and outcome.started_utc <= outcome.completed_utc
    [row] = query(books, "SELECT * FROM batches WHERE batch_id = 's1'")
    assert row[:13] == (
        "s1",
        "run-1",
        "PAPER",
        "sync",
        "ui",
        "nightly",
        outcome.started_utc,
        outcome.completed_utc,
        2,
        3,
        "committed",
        1,
        "d" * 64,
    )
    assert row[13] == query(books, "SELECT max(seq) FROM batches")[0][0] and len(row[14]) == 64
    assert chain_problem(books) is None
    [event] = audit.tail(5)
    assert (event.category, event.event, event.severity, event.actor) == (
        "ledger_batch",
        "batch_committed",
        "info",
        "ui",
    )
    assert event.context_dict() == {
        "batch_id": "s1",
        "sync_run_id": "run-1",
        "broker_code": "PAPER",
        "kind": "sync",
        "caller": "ui",
        "reason": "nightly",
        "row_count": 2,
        "groups": 1,
        "skipped_known": 3,
        "started_utc": outcome.started_utc,
        "completed_utc": outcome.completed_utc,
        "commit_state": "committed",
    }


def test_a_batch_skips_nothing_unless_its_build_says_so(books):
    outcome = run(books, posting(), lambda d: d.add_group("POSTING", EFFECTIVE, "a", PAIR))
    assert outcome.skipped_known == 0 and query(books, "SELECT skipped_known FROM batches WHERE batch_id = 'b1'") == [
        (0,)
    ]


def test_a_ledger_writes_through_the_given_vfs(books):
    vfs = FaultVFS("batch_vfs_probe")
    try:
        with Ledger(books, vfs=vfs.name) as ledger:
            ledger.run(posting(), lambda d: d.add_group("POSTING", EFFECTIVE, "a", PAIR))
        assert vfs.counts["write"] > 0
    finally:
        vfs.unregister()


def test_each_batch_links_to_the_one_before(books):
    run(books, posting("b1"), lambda d: d.add_group("POSTING", EFFECTIVE, "a", PAIR))
    run(books, posting("b2"), lambda d: d.add_group("POSTING", EFFECTIVE, "b", PAIR))
    seqs = query(books, "SELECT seq FROM batches ORDER BY seq")
    assert [s for (s,) in seqs] == list(range(1, len(seqs) + 1)) and chain_problem(books) is None


def test_a_repeat_of_a_committed_batch_id_adds_nothing_and_answers_the_first_counts(books, audit):
    def build(draft: Draft) -> None:
        draft.add_group("POSTING", EFFECTIVE, "a", PAIR)
        draft.skipped_known = 2

    run(books, posting("b1", reason="first"), build)
    built = []
    again = run(books, posting("b1", caller="ui", reason="again"), lambda d: built.append(d), audit)
    assert built == [], "a repeat never drafts"
    assert (again.commit_state, again.row_count, again.group_count, again.group_ids, again.skipped_known) == (
        "committed",
        2,
        1,
        (),
        2,
    )
    assert again.already_committed is True and (again.batch_id, again.sync_run_id) == ("b1", None)
    [event] = audit.tail(5)
    assert (event.event, event.actor) == ("batch_repeat", "ui")
    assert event.context_dict() == {
        "batch_id": "b1",
        "sync_run_id": None,
        "broker_code": None,
        "kind": "posting",
        "caller": "ui",
        "reason": "again",
        "row_count": 0,
        "note": "already committed; nothing added",
    }
    assert query(books, "SELECT count(*) FROM batches WHERE batch_id = 'b1'") == [(1,)]


def test_a_repeat_is_found_by_sync_run_id_and_refused_for_another_broker(books):
    meta = BatchMeta("s1", "sync", sync_run_id="run-1", broker_code="PAPER")
    run(books, meta, lambda d: d.add_group("FILL", EFFECTIVE, "a", PAIR, broker_code="PAPER", fitid="F1"))
    again = run(books, BatchMeta("s2", "sync", sync_run_id="run-1", broker_code="PAPER"), lambda d: None)
    assert again.already_committed and (again.batch_id, again.sync_run_id, again.row_count) == ("s2", "run-1", 2)
    assert again.started_utc.endswith("Z") and again.completed_utc.endswith("Z")
    assert again.started_utc <= again.completed_utc
    error = refusal(
        lambda: run(books, BatchMeta("s3", "sync", sync_run_id="run-1", broker_code="IBKR"), lambda d: None)
    )
    assert (error.constraint, error.category, error.batch_id) == ("sync_run_id_broker", "validation", "s3")
    assert str(error) == "sync_run_id run-1 was already used for broker PAPER"
    assert query(books, "SELECT row_count FROM failed_batches WHERE batch_id = 's3'") == [(0,)]
    other = run(books, posting("p1"), lambda d: d.add_group("POSTING", EFFECTIVE, "b", PAIR))
    assert not other.already_committed, "a batch without a sync_run_id never matches another's NULL"


# -- refusing -------------------------------------------------------------------------------------------------------
def _failing(books: Path, error: BaseException, audit: AuditLog | None = None, meta: BatchMeta | None = None):
    def build(draft: Draft) -> None:
        draft.add_group("POSTING", EFFECTIVE, "a", PAIR)
        draft.add_group("POSTING", EFFECTIVE, "b", PAIR)
        raise error

    with Ledger(books, audit=audit) as ledger:
        try:
            ledger.run(meta or posting("bad", caller="ui", reason="try"), build)
        finally:
            assert ledger.conn.get_autocommit(), "rolled back: no transaction left open"


def test_a_refused_batch_writes_nothing_but_one_telemetry_row_and_one_audit_event(books, audit):
    with pytest.raises(LedgerBatchError) as info:
        _failing(books, TbotError("bad\n  input " + "x" * 600), audit)
    error = info.value
    detail = "bad input " + "x" * 600
    assert (error.category, error.constraint, error.batch_id) == ("validation", "TbotError", "bad")
    assert str(error) == f"ledger batch bad rolled back: {detail}"
    assert error.__cause__ is None and error.__suppress_context__
    assert query(books, "SELECT count(*) FROM groups WHERE batch_id = 'bad'") == [(0,)]
    [row] = query(
        books,
        "SELECT batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, completed_utc, row_count, "
        "commit_state, error_category, error_detail FROM failed_batches",
    )
    assert row[:6] == ("bad", None, None, "posting", "ui", "try") and row[6] <= row[7]
    assert row[8:] == (4, "rolled_back", "validation", f"TbotError: {detail}"[:500])
    [event] = audit.tail(5)
    assert (event.event, event.severity, event.actor) == ("batch_rolled_back", "error", "ui")
    assert event.context_dict() == {
        "batch_id": "bad",
        "sync_run_id": None,
        "broker_code": None,
        "kind": "posting",
        "caller": "ui",
        "reason": "try",
        "row_count": 4,
        "commit_state": "rolled_back",
        "category": "validation",
        "constraint": "TbotError",
        "detail": detail[:300],
        "started_utc": row[6],
        "completed_utc": row[7],
        "telemetry_row_written": True,
    }


def test_a_validation_refusal_is_raised_as_itself_with_the_batch_named(books):
    own = LedgerBatchError("ledger validation failed (x): y", category="validation", constraint="x")
    with pytest.raises(LedgerBatchError) as info:
        _failing(books, own)
    assert info.value is own and own.batch_id == "bad"
    assert query(books, "SELECT error_category, error_detail FROM failed_batches") == [
        ("validation", "x: ledger validation failed (x): y")
    ]


def test_a_bug_in_a_build_is_raised_unchanged_and_still_recorded(books, audit):
    with pytest.raises(KeyError):
        _failing(books, KeyError("oops"), audit)
    assert query(books, "SELECT error_category, error_detail FROM failed_batches") == [
        ("internal", "KeyError: unexpected KeyError while building the batch")
    ]
    assert audit.tail(1)[0].context_dict()["category"] == "internal"


def test_an_interrupt_rolls_back_and_is_raised(books):
    with pytest.raises(KeyboardInterrupt):
        _failing(books, KeyboardInterrupt())
    assert query(books, "SELECT count(*) FROM groups WHERE batch_id = 'bad'") == [(0,)]
    assert query(books, "SELECT error_category FROM failed_batches") == [("internal",)]


def test_a_row_the_schema_refuses_rolls_back_named_by_its_constraint(books):
    error = refusal(lambda: run(books, posting("b1"), lambda d: d.add_group("BOGUS", EFFECTIVE, "x", PAIR)))
    assert (error.category, error.constraint, error.batch_id) == ("check", "group_kind", "b1")
    assert str(error) == "ledger batch b1 rolled back: check constraint group_kind refused the batch"
    assert query(books, "SELECT row_count, error_category FROM failed_batches") == [(2, "check")]
    assert query(books, "SELECT count(*) FROM batches WHERE batch_id = 'b1'") == [(0,)]


def test_a_leg_added_outside_its_group_refuses_the_batch(books):
    def build(draft: Draft) -> None:
        gid = draft.add_group("POSTING", EFFECTIVE, "a", PAIR)
        draft.add_leg_to(gid, "1000", 5, 0)

    assert refusal(lambda: run(books, posting(), build)).constraint == "leg_outside_group"


def test_a_refusal_whose_telemetry_row_cannot_be_written_is_still_rolled_back_and_audited(books, audit):
    with pytest.raises(LedgerBatchError):
        _failing(books, TbotError("no"), audit, BatchMeta("bad", "posting", reason=None))  # type: ignore[arg-type]
    assert query(books, "SELECT count(*) FROM failed_batches") == [(0,)]
    context = audit.tail(1)[0].context_dict()
    assert context["telemetry_row_written"] is False and context["category"] == "validation"
    assert run(books, posting("next"), lambda d: d.add_group("POSTING", EFFECTIVE, "a", PAIR)).group_count == 1


def test_a_refusal_without_an_audit_log_is_still_recorded(books):
    with pytest.raises(LedgerBatchError):
        _failing(books, TbotError("no"))
    assert query(books, "SELECT count(*) FROM failed_batches") == [(1,)]


def test_the_ledger_closes_its_connection(books):
    ledger = Ledger(books)
    with ledger as same:
        assert same is ledger and ledger.path == books and ledger.audit is None
    with pytest.raises(Exception, match="closed"):
        ledger.conn.execute("SELECT 1")
