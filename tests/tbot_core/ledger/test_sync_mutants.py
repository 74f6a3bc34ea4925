"""Broker sync, exact (mutmut sees these): the balanced group each activity becomes, the run's name and input digest as
specified, and known fitids skipped or refused.

Real ledger files, the real ``Ledger`` and ``AuditLog``; the digests are recomputed (``sync_kit``) from their
written specification (the module docstrings), so a change of format is a visible decision, not an accident.
"""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal

import pytest

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.ledger.batch import BatchMeta, Ledger
from tbot_core.ledger.coa import default_coa
from tbot_core.ledger.schema import SCHEMA_VERSION, schema_sql
from tbot_core.ledger.sync import SyncResult, ingest_activities

from .helpers import cash, fill
from .sync_kit import BUY, SELL_GAIN, SELL_LOSS, group_of, legs_of, query, refusal, spec_input_digest, spec_run_digest


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
