"""Broker sync, exact (mutmut sees these): the balanced group each activity becomes, the run's name and input
digest as specified, known fitids skipped or refused, and every answer to a re-used run id.

Real ledger files, the real ``Ledger`` and ``AuditLog``; the digests are recomputed here from their written
specification (the module docstrings), so a change of format is a visible decision, not an accident.
"""

from __future__ import annotations

import hashlib
import sqlite3
from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from pathlib import Path

import pytest

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.ledger import sync
from tbot_core.ledger.activity import Activity
from tbot_core.ledger.batch import BatchMeta, Ledger
from tbot_core.ledger.coa import default_coa
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.schema import SCHEMA_VERSION, schema_sql
from tbot_core.ledger.sync import SyncResult, ingest_activities, input_digest, run_digest

from .faultvfs import FaultVFS
from .helpers import cash, fill

BUY = fill("b1", "buy", "10", "100.10", fee="1", minutes=1)
SELL_GAIN = fill("s1", "sell", "4", "110", fee="1", minutes=2)
SELL_LOSS = fill("s2", "sell", "6", "90", fee="0", minutes=3)


def spec_run_digest(broker: str, acts: list[Activity]) -> str:
    lines = sorted(f"{a.fitid}\x1f{a.content_hash()}" for a in acts)
    return hashlib.sha256("\x1e".join([broker, *lines]).encode()).hexdigest()[:24]


def spec_input_digest(broker: str, acts: list[Activity]) -> str:
    h = hashlib.sha256(f"tbot-sync-input/1\x1e{len(acts)}\x1e{broker}".encode())
    for name in ("fitid", "type", "symbol", "side"):
        h.update(("\x1e" + "\x1f".join(getattr(a, name) for a in acts)).encode())
    for name in ("qty", "price", "amount", "fee"):
        h.update(("\x1e" + "\x1f".join(str(getattr(a, name)) for a in acts)).encode())
    h.update(b"\x1ep" + b"".join(datetime.__reduce__(a.timestamp_utc)[1][0] for a in acts))
    return h.hexdigest()


def query(books: Path, sql: str, *args) -> list[tuple]:
    with Ledger(books) as ledger:
        return ledger.conn.execute(sql, args).fetchall()


def group_of(books: Path, fitid: str) -> tuple:
    [row] = query(
        books,
        "SELECT group_id, kind, effective_utc, memo, symbol, broker_code, content_hash FROM groups WHERE fitid = ?",
        fitid,
    )
    return row


def legs_of(books: Path, fitid: str) -> list[tuple]:
    return query(
        books,
        "SELECT account_code, debit_cents, credit_cents FROM legs JOIN groups USING (group_id) WHERE fitid = ? "
        "ORDER BY leg_no",
        fitid,
    )


def refusal(call) -> LedgerBatchError:
    with pytest.raises(LedgerBatchError) as info:
        call()
    return info.value


# -- the run id ---------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("run_id", ["", "x" * 129, "tab\there", " lead", "trail ", 7, None])
def test_a_sync_run_id_must_be_1_to_128_printable_characters_without_padding(books, run_id):
    with pytest.raises(TbotError) as info:
        ingest_activities(books, "PAPER", [BUY], sync_run_id=run_id)  # wrong types on purpose
    assert str(info.value) == "sync_run_id: expected 1-128 printable characters without leading or trailing spaces"
    assert query(books, "SELECT count(*) FROM batches WHERE kind = 'sync'") == [(0,)]


@pytest.mark.parametrize("run_id", ["x", "y" * 128, "run with inner spaces"])
def test_run_ids_of_1_and_128_characters_are_accepted(books, run_id):
    assert ingest_activities(books, "PAPER", [cash("d", "TRANSFER", "5")], sync_run_id=run_id).posted == 1


# -- the first run ------------------------------------------------------------------------------------------------
def test_a_run_is_one_batch_named_by_its_run_id_and_content_with_its_input_digest(books, tmp_path):
    acts = [cash("dep", "TRANSFER", "100000"), BUY, SELL_GAIN]
    with AuditLog(tmp_path / "audit.db") as audit:
        result = ingest_activities(books, " paper", acts, sync_run_id="day-1", caller="ui", audit=audit)
        assert [r.event for r in audit.tail(5)] == ["batch_committed"]
    batch_id = f"sync:day-1:{spec_run_digest('PAPER', acts)}"
    assert result == SyncResult("day-1", batch_id, "committed", 3, 0, 2 + 3 + 4, False)
    assert query(
        books,
        "SELECT kind, caller, reason, sync_run_id, broker_code, input_digest, row_count, group_count FROM batches "
        "WHERE batch_id = ?",
        batch_id,
    ) == [("sync", "ui", "broker sync PAPER (3 activities)", "day-1", "PAPER", spec_input_digest("PAPER", acts), 9, 3)]


def test_a_fill_buy_debits_securities_and_fees_credits_cash_and_opens_a_lot(books):
    ingest_activities(books, "PAPER", [BUY], sync_run_id="r")
    gid, kind, effective, memo, symbol, broker, content_hash = group_of(books, "b1")
    assert (kind, effective, memo, symbol, broker) == ("FILL", BUY.time_text(), "buy 10 AAPL @ 100.10", "AAPL", "PAPER")
    assert content_hash == BUY.content_hash()
    assert legs_of(books, "b1") == [("1100", 100100, 0), ("5100", 100, 0), ("1000", 0, 100200)]
    assert query(books, "SELECT group_id, broker_code, symbol, qty, cost_cents FROM lots") == [
        (gid, "PAPER", "AAPL", "10", 100100)
    ]


def test_a_sell_relieves_lots_first_in_first_out_and_books_the_gain_or_the_loss(books):
    result = ingest_activities(books, "PAPER", [SELL_LOSS, SELL_GAIN, BUY], sync_run_id="r")  # handed in out of order
    assert result.posted == 3
    assert group_of(books, "s1")[3] == "sell 4 AAPL @ 110"
    assert legs_of(books, "s1") == [("1000", 43900, 0), ("5100", 100, 0), ("1100", 0, 40040), ("4000", 0, 3960)]
    assert legs_of(books, "s2") == [("1000", 54000, 0), ("1100", 0, 60060), ("5000", 6060, 0)]
    ids = [group_of(books, f)[0] for f in ("b1", "s1", "s2")]
    assert ids == sorted(ids), "posted in time order"
    assert query(books, "SELECT qty, cost_cents FROM lot_reliefs ORDER BY relief_id") == [("4", 40040), ("6", 60060)]


def test_a_one_cent_gain_is_a_gain(books):
    sell = fill("s1", "sell", "10", "100.101", fee="0", minutes=2)
    ingest_activities(books, "PAPER", [BUY, sell], sync_run_id="r")
    assert legs_of(books, "s1") == [("1000", 100101, 0), ("1100", 0, 100100), ("4000", 0, 1)]


def test_every_group_carries_its_activitys_content_hash(books):
    acts = [cash("d", "DIVIDEND", "3", symbol="AAPL"), cash("f", "FEE", "-1"), BUY, SELL_GAIN]
    ingest_activities(books, "PAPER", acts, sync_run_id="r")
    assert [group_of(books, a.fitid)[6] for a in acts] == [a.content_hash() for a in acts]


def test_a_sell_at_exactly_its_cost_books_neither_gain_nor_loss(books):
    flat = fill("s0", "sell", "10", "100.10", fee="0", minutes=2)
    ingest_activities(books, "PAPER", [BUY, flat], sync_run_id="r")
    assert legs_of(books, "s0") == [("1000", 100100, 0), ("1100", 0, 100100)]


@pytest.mark.parametrize(
    "kind, role_account, memo",
    [
        ("DIVIDEND", "4100", "dividend AAPL"),
        ("INTEREST", "4200", "interest AAPL"),
        ("TRANSFER", "3000", "transfer AAPL"),
    ],
)
def test_income_and_transfers_credit_their_role_net_of_the_fee_to_cash(books, kind, role_account, memo):
    act = replace(cash("c1", kind, "12.34", symbol="AAPL"), fee=Decimal("0.5"))
    ingest_activities(books, "PAPER", [act], sync_run_id="r")
    assert group_of(books, "c1")[1:4] == (kind, act.time_text(), memo)
    assert legs_of(books, "c1") == [("1000", 1184, 0), ("5100", 50, 0), (role_account, 0, 1234)]


def test_a_fee_activitys_own_fee_adds_to_it(books):
    ingest_activities(books, "PAPER", [replace(cash("f1", "FEE", "-5.25"), fee=Decimal("0.5"))], sync_run_id="r")
    assert legs_of(books, "f1") == [("1000", 0, 575), ("5100", 575, 0)]


def test_a_fee_activity_moves_cash_to_fees(books):
    ingest_activities(books, "PAPER", [cash("f1", "FEE", "-5.25"), cash("t1", "TRANSFER", "-7")], sync_run_id="r")
    assert group_of(books, "f1")[1:4] == ("FEE", cash("f1", "FEE", "-5.25").time_text(), "fee")
    assert legs_of(books, "f1") == [("1000", 0, 525), ("5100", 525, 0)]
    assert legs_of(books, "t1") == [("1000", 0, 700), ("3000", 700, 0)]


def test_a_sell_beyond_the_lots_held_is_refused_naming_its_fitid(books):
    error = refusal(
        lambda: ingest_activities(books, "PAPER", [BUY, fill("s9", "sell", "11", "100", minutes=5)], sync_run_id="r")
    )
    assert error.constraint == "sell_exceeds_lots" and "fitid s9: sell of 11 AAPL exceeds the 10 held" in str(error)


def test_a_chart_without_an_account_for_every_role_refuses_the_run(tmp_path):
    books = tmp_path / "partial.db"
    coa = default_coa()
    with Ledger(books) as ledger:
        ledger.conn.execute(schema_sql())
        ledger.conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

        def older_chart(draft):  # a chart from before the dividend and fee roles were mapped
            for code, name, kind in coa.accounts:
                draft.add_account(code, name, kind)
            for role, code in coa.roles.items():
                if role not in ("dividend_income", "fees"):
                    draft.map_role(role, code)

        ledger.run(BatchMeta("coa:old", "coa"), older_chart)
    error = refusal(lambda: ingest_activities(books, "PAPER", [cash("d", "TRANSFER", "5")], sync_run_id="r"))
    assert (error.constraint, error.category) == ("coa_role_missing", "validation")
    assert str(error) == (
        "ledger validation failed (coa_role_missing): role dividend_income has no account; run `tbot ledger check`"
    )


# -- known fitids -------------------------------------------------------------------------------------------------
def test_an_activity_already_booked_with_the_same_content_is_skipped_and_counted(books):
    ingest_activities(books, "PAPER", [BUY], sync_run_id="r1")
    result = ingest_activities(books, "PAPER", [BUY, SELL_GAIN, SELL_GAIN], sync_run_id="r2")
    assert (result.posted, result.skipped_known, result.row_count, result.already_committed) == (1, 2, 4, False)
    assert query(books, "SELECT skipped_known FROM batches WHERE sync_run_id = 'r2'") == [(2,)]


def test_an_activity_already_booked_with_other_content_fails_the_whole_run(books):
    ingest_activities(books, "PAPER", [BUY], sync_run_id="r1")
    changed = replace(BUY, fee=Decimal("2"))
    error = refusal(lambda: ingest_activities(books, "PAPER", [SELL_GAIN, changed], sync_run_id="r2"))
    assert error.constraint == "fitid_content_changed" and error.category == "validation"
    assert str(error) == "fitid b1 of broker PAPER was already booked with different content; run rolled back"
    assert query(books, "SELECT count(*) FROM groups WHERE fitid = 's1'") == [(0,)]
    twice = refusal(
        lambda: ingest_activities(books, "PAPER", [SELL_GAIN, replace(SELL_GAIN, fee=Decimal(3))], sync_run_id="r3")
    )
    assert twice.constraint == "fitid_content_changed", "the same fitid twice in one run, with other content"


def test_the_same_fitid_at_another_broker_is_another_activity(books):
    ingest_activities(books, "PAPER", [cash("x", "TRANSFER", "5")], sync_run_id="r1")
    assert ingest_activities(books, "IBKR", [cash("x", "TRANSFER", "9")], sync_run_id="r2").posted == 1


def test_known_fitids_are_looked_up_in_chunks_and_none_is_missed(books):
    many = [cash(f"i{n:04d}", "INTEREST", "0.01", minutes=n) for n in range(1001)]
    ingest_activities(books, "PAPER", many, sync_run_id="bulk")
    result = ingest_activities(books, "PAPER", [*many, cash("new", "INTEREST", "1", minutes=2000)], sync_run_id="more")
    assert (result.posted, result.skipped_known) == (1, 1001)


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
