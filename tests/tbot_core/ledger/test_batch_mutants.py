"""The one write path, exact (mutmut sees these): what a committed batch writes and answers, how a repeat is
answered, and what a refused batch leaves behind (nothing, one telemetry row and one audit event).

Real ledger files, the real ``Ledger`` and ``AuditLog``; the hash chain is re-verified from the file after each
commit, so a wrongly hashed or wrongly inserted batch shows.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.ledger.batch import BatchMeta, BatchOutcome, Draft, Ledger, signed_legs
from tbot_core.ledger.chain import verify_all
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError

from .faultvfs import FaultVFS
from .helpers import EFFECTIVE, fresh_ledger

PAIR = [("1100", 700, 0), ("1000", 0, 700)]


@pytest.fixture
def books(tmp_path: Path) -> Path:
    return fresh_ledger(tmp_path)


@pytest.fixture
def audit(tmp_path: Path):
    with AuditLog(tmp_path / "audit.db") as log:
        yield log


def query(books: Path, sql: str, *args) -> list[tuple]:
    conn = open_ledger(books, readonly=True)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def chain_problem(books: Path) -> str | None:
    conn = open_ledger(books, readonly=True)
    try:
        return verify_all(conn).problem
    finally:
        conn.close()


def run(books: Path, meta: BatchMeta, build, audit: AuditLog | None = None) -> BatchOutcome:
    with Ledger(books, audit=audit) as ledger:
        return ledger.run(meta, build)


def posting(batch_id: str = "b1", **kw) -> BatchMeta:
    return BatchMeta(batch_id, "posting", **kw)


def refusal(call) -> LedgerBatchError:
    with pytest.raises(LedgerBatchError) as info:
        call()
    return info.value


# -- the batch's description ----------------------------------------------------------------------------------------
def test_a_batch_needs_a_known_kind_a_known_caller_and_an_id_of_1_to_200_characters():
    with pytest.raises(ValueError) as info:
        BatchMeta("b", "bogus")
    assert str(info.value) == "batch kind 'bogus': expected one of sync, posting, coa, hook, override, reversal"
    with pytest.raises(TbotError) as info:
        BatchMeta("b", "posting", caller="cli")
    assert str(info.value) == "caller 'cli': expected system or ui"
    for bad in ("", "x" * 201):
        with pytest.raises(TbotError) as info:
            BatchMeta(bad, "posting")
        assert str(info.value) == "batch_id: expected 1-200 characters"
    assert BatchMeta("x" * 200, "reversal", caller="ui").caller == "ui"
    assert (posting().caller, posting().reason, posting().sync_run_id, posting().input_digest) == (
        "system",
        "",
        None,
        None,
    )


def test_signed_legs_are_debits_when_positive_credits_when_negative_and_zero_is_dropped():
    assert signed_legs([("a", 5), ("b", 0), ("c", -7), ("d", 1)]) == [("a", 5, 0), ("c", 0, 7), ("d", 1, 0)]


# -- drafting -------------------------------------------------------------------------------------------------------
def test_drafted_rows_get_the_next_ids_and_their_slot_numbers(books):
    seen = {}

    def build(draft: Draft) -> None:
        seen["peek"] = draft.peek_group_id()
        first = draft.add_group(
            "POSTING", EFFECTIVE, "m1", iter(PAIR), symbol="AAPL", broker_code="PAPER", fitid="F1", content_hash="h"
        )
        second = draft.add_group("POSTING", EFFECTIVE, "m2", [("1100", 5, 0), ("5100", 1, 0), ("1000", 0, 6)])
        seen["ids"] = (first, second, draft.peek_group_id())
        seen["groups"], seen["legs"] = list(draft.groups), list(draft.legs)

    outcome = run(books, posting(), build)
    start = seen["peek"]
    assert seen["ids"] == (start, start + 1, start + 2)
    assert seen["groups"] == [
        (start, "b1", "POSTING", EFFECTIVE, "m1", "AAPL", "PAPER", "F1", "h", None, 1, 2),
        (start + 1, "b1", "POSTING", EFFECTIVE, "m2", "", None, None, None, None, 2, 3),
    ]
    assert seen["legs"] == [
        (start, 1, "1100", 700, 0, 2),
        (start, 2, "1000", 0, 700, 2),
        (start + 1, 1, "1100", 5, 0, 3),
        (start + 1, 2, "5100", 1, 0, 3),
        (start + 1, 3, "1000", 0, 6, 3),
    ]
    assert outcome.group_ids == (start, start + 1)
    assert run(books, posting("b2"), lambda d: seen.update(next=d.peek_group_id())).group_count == 0
    assert seen["next"] == start + 2, "ids continue after the committed groups"


def test_a_refused_group_is_named_by_its_id_and_fitid(books):
    seen = {}

    def build(draft: Draft) -> None:
        gid = draft.peek_group_id()
        with pytest.raises(LedgerBatchError) as plain:
            draft.add_group("FILL", EFFECTIVE, "x", [("1100", 5, 0), ("1000", 0, 4)], fitid="F7")
        with pytest.raises(LedgerBatchError) as signed:
            draft.add_signed_group("FILL", EFFECTIVE, "x", [("1100", 5), ("1000", -4)], "", "PAPER", "F8", None)
        seen.update(gid=gid, plain=str(plain.value), signed=str(signed.value))

    run(books, posting(), build)
    gid = seen["gid"]
    assert seen["plain"].endswith(f"group {gid} (fitid F7): debits 5 != credits 4 (cents)")
    assert seen["signed"].endswith(f"group {gid} (fitid F8): debits 5 != credits 4 (cents)")


def test_a_refused_group_uses_no_id(books):
    ids = []

    def build(draft: Draft) -> None:
        with pytest.raises(LedgerBatchError):
            draft.add_group("POSTING", EFFECTIVE, "bad", [("1100", 5, 0), ("1000", 0, 4)])
        with pytest.raises(LedgerBatchError):
            draft.add_signed_group("FEE", EFFECTIVE, "bad", [("1000", 5), ("5100", -4)], "", None, None, None)
        ids.append(draft.add_group("POSTING", EFFECTIVE, "good", PAIR))
        ids.append(draft.peek_group_id())

    run(books, posting(), build)
    assert ids[1] == ids[0] + 1 and query(books, "SELECT group_no FROM groups WHERE memo = 'good'") == [(1,)]


def test_a_one_cent_signed_pair_is_a_one_cent_debit(books):
    outcome = run(
        books,
        posting(),
        lambda d: d.add_signed_group("FEE", EFFECTIVE, "x", [("5100", 1), ("1000", -1)], "", None, None, None),
    )
    assert query(
        books, "SELECT account_code, debit_cents, credit_cents FROM legs WHERE group_id = ?", outcome.group_ids[0]
    ) == [
        ("5100", 1, 0),
        ("1000", 0, 1),
    ]


def test_signed_groups_drop_zero_pairs_and_draft_the_same_rows_as_legs(books):
    seen = {}

    def build(draft: Draft) -> None:
        gid = draft.add_signed_group(
            "FEE", EFFECTIVE, "fee", [("1000", -525), ("1100", 0), ("5100", 525)], "SPY", "PAPER", "F9", "h9"
        )
        seen["gid"], seen["groups"], seen["legs"] = gid, list(draft.groups), list(draft.legs)
        seen["next"] = draft.peek_group_id()

    run(books, posting(), build)
    gid = seen["gid"]
    assert seen["next"] == gid + 1
    assert seen["groups"] == [(gid, "b1", "FEE", EFFECTIVE, "fee", "SPY", "PAPER", "F9", "h9", None, 1, 2)]
    assert seen["legs"] == [(gid, 1, "1000", 0, 525, 2), (gid, 2, "5100", 525, 0, 2)]
    assert chain_problem(books) is None


def test_add_groups_drafts_a_valid_set_exactly_as_group_by_group_would(books, tmp_path):
    specs = [
        ("POSTING", EFFECTIVE, "a", PAIR, "AAPL", "alpaca", "F1", "h1"),
        ("POSTING", EFFECTIVE, "b", (("1100", 3, 0), ("5100", 1, 0), ("1000", 0, 4)), "", None, None, None),
    ]
    bulk, single = {}, {}

    def by_bulk(draft: Draft) -> None:
        draft.add_group("POSTING", EFFECTIVE, "first", PAIR)  # slots continue after groups already drafted
        assert draft.add_groups(specs, str.upper) is True
        bulk.update(groups=list(draft.groups), legs=list(draft.legs), next=draft.peek_group_id())

    def by_group(draft: Draft) -> None:
        draft.add_group("POSTING", EFFECTIVE, "first", PAIR)
        for kind, effective, memo, legs, symbol, code, fitid, content_hash in specs:
            broker = None if code is None else code.upper()
            draft.add_group(
                kind, effective, memo, legs, symbol=symbol, broker_code=broker, fitid=fitid, content_hash=content_hash
            )
        single.update(groups=list(draft.groups), legs=list(draft.legs), next=draft.peek_group_id())

    run(books, posting(), by_bulk)
    run(fresh_ledger(tmp_path, "other.db"), posting(), by_group)
    assert bulk == single
    assert bulk["next"] == bulk["groups"][-1][0] + 1 and [g[10] for g in bulk["groups"]] == [1, 2, 3]
    assert bulk["groups"][1][6] == "ALPACA" and bulk["groups"][2][6] is None
    assert chain_problem(books) is None


@pytest.mark.parametrize(
    "bad",
    [
        ("POSTING", EFFECTIVE, "one leg", [("1100", 5, 0)], "", None, None, None),
        ("POSTING", EFFECTIVE, "unbalanced", [("1100", 5, 0), ("1000", 0, 4)], "", None, None, None),
        ("POSTING", EFFECTIVE, "read once", iter(PAIR), "", None, None, None),
        ("POSTING", EFFECTIVE, "bad broker", PAIR, "", "?", None, None),
        ("POSTING", EFFECTIVE, "short spec", PAIR),
    ],
    ids=["one-leg", "unbalanced", "iterator", "broker-raises", "short-spec"],
)
def test_add_groups_drafts_nothing_and_answers_false_for_any_fault(books, bad):
    def spell(code: str) -> str:
        if code == "?":
            raise TbotError("bad code")
        return code

    seen = {}

    def build(draft: Draft) -> None:
        draft.add_group("POSTING", EFFECTIVE, "kept", PAIR)
        before = draft.peek_group_id()
        good = ("POSTING", EFFECTIVE, "ok", PAIR, "", None, None, None)
        seen["answer"] = draft.add_groups([good, bad], spell)
        seen["rows"] = (len(draft.groups), len(draft.legs), draft.peek_group_id() - before)

    run(books, posting(), build)
    assert seen == {"answer": False, "rows": (1, 2, 0)}


def test_add_groups_of_nothing_drafts_nothing(books):
    seen = {}
    run(books, posting(), lambda d: seen.update(answer=d.add_groups([], str.upper), n=len(d.groups)))
    assert seen == {"answer": True, "n": 0}


def test_lots_reliefs_accounts_and_mappings_get_their_ids_in_order(books):
    seen = {}

    def build(draft: Draft) -> None:
        assert "9000" not in draft.account_codes()
        draft.add_account("9000", "Suspense", "asset")
        assert "9000" in draft.account_codes(), "a drafted account is usable at once"
        gid = draft.add_group("POSTING", EFFECTIVE, "to suspense", [("9000", 700, 0), ("1000", 0, 700)])
        seen["lots"] = (draft.open_lot(gid, "PAPER", "AAPL", "10", 700), draft.open_lot(gid, "PAPER", "MSFT", "1", 0))
        draft.relieve_lot(seen["lots"][0], gid, "4", 280)
        draft.relieve_lot(seen["lots"][0], gid, "1", 70)
        draft.map_role("suspense", "9000")
        draft.map_role("suspense", "1000")
        seen["rows"] = (list(draft.lots), list(draft.reliefs), list(draft.accounts), list(draft.mappings))

    run(books, BatchMeta("b1", "coa"), build)
    lots, reliefs, accounts, mappings = seen["rows"]
    lot = seen["lots"][0]
    assert seen["lots"][1] == lot + 1
    assert [r[0] for r in reliefs] == [reliefs[0][0], reliefs[0][0] + 1] and reliefs[0][1:] == (
        lot,
        lots[0][1],
        "4",
        280,
    )
    assert accounts == [("9000", "Suspense", "asset", "b1")]
    assert [m[1:] for m in mappings] == [("suspense", "9000", "b1"), ("suspense", "1000", "b1")]
    assert mappings[1][0] == mappings[0][0] + 1
    assert query(books, "SELECT lot_id, symbol, qty, cost_cents FROM lots ORDER BY lot_id") == [
        (lot, "AAPL", "10", 700),
        (lot + 1, "MSFT", "1", 0),
    ]
    assert query(books, "SELECT count(*) FROM lot_reliefs") == [(2,)]
    assert chain_problem(books) is None
    run(books, posting("b2"), lambda d: seen.update(after=(d.open_lot(1, "PAPER", "X", "1", 0), len(d.lots))))
    assert seen["after"][0] == lot + 2


def test_an_account_drafted_before_the_chart_is_first_read_is_usable(books):
    run(
        books,
        BatchMeta("b1", "coa"),
        lambda d: (
            d.add_account("9100", "Other", "asset"),
            d.add_group("POSTING", EFFECTIVE, "x", [("9100", 1, 0), ("1000", 0, 1)]),
        ),
    )
    assert query(books, "SELECT account_code FROM legs WHERE account_code = '9100'") == [("9100",)]


@pytest.mark.parametrize("n_legs", [2, 63, 64, 65, 128, 130])
def test_every_row_is_inserted_whatever_the_count(books, n_legs):
    legs = [("1100", 1 + k, 0) for k in range(n_legs - 1)]
    legs.append(("1000", 0, sum(d for _, d, _ in legs)))
    groups = [("POSTING", EFFECTIVE, f"g{i}", list(legs) if i == 0 else PAIR) for i in range(n_legs)]

    def build(draft: Draft) -> None:
        for kind, effective, memo, group_legs in groups:
            draft.add_group(kind, effective, memo, group_legs)

    outcome = run(books, posting(), build)
    assert outcome.row_count == n_legs + 2 * (n_legs - 1) and outcome.group_count == n_legs
    first = outcome.group_ids[0]
    assert query(
        books, "SELECT leg_no, debit_cents, credit_cents FROM legs WHERE group_id = ? ORDER BY leg_no", first
    ) == [(k + 1, d, c) for k, (_, d, c) in enumerate(legs)]
    assert query(books, "SELECT count(*), min(group_no), max(group_no) FROM groups WHERE batch_id = 'b1'") == [
        (n_legs, 1, n_legs)
    ]
    assert chain_problem(books) is None


def test_a_value_python_cannot_render_is_hashed_from_the_rows_read_back(books):
    run(books, posting(), lambda d: d.add_group("POSTING", EFFECTIVE, "it's quoted\x00", PAIR))
    assert chain_problem(books) is None
    run(books, posting("b2"), lambda d: d.add_group("POSTING", EFFECTIVE, 1.5, PAIR))  # a non-text memo on purpose
    assert chain_problem(books) is None


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
