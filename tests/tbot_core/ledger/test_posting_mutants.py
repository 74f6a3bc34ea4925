"""General postings and reversing entries, exact (mutmut sees these): what a posting writes row by row, the mirror
image a reversal posts, every refusal by name, and the audited manual override of a holdings action.

Real ledger files (``create_schema``), the real ``Ledger`` batch runner and the real ``AuditLog``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_core.errors import TbotError
from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.posting import (
    HOLDINGS_KINDS,
    GroupSpec,
    audit_actor,
    post_groups,
    require_reason,
    reverse_group,
)
from tbot_core.ledger.sync import ingest_activities

from .helpers import EFFECTIVE, cash, fill

TRADE = GroupSpec(
    "POSTING",
    EFFECTIVE,
    "bought at the open",
    [("1100", 1234, 0), ("5100", 100, 0), ("1000", 0, 1334)],
    symbol="AAPL",
    broker_code=" alpaca",
    fitid="T-1",
    content_hash="c" * 64,
)
TOPUP = GroupSpec("TAX_RESERVE", EFFECTIVE, "set aside tax", [("1300", 2500, 0), ("1000", 0, 2500)])


def groups_of(books: Path, batch_id: str) -> list[tuple]:
    with Ledger(books) as ledger:
        return ledger.conn.execute(
            "SELECT group_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash, reverses_group_id, "
            "group_no, leg_count FROM groups WHERE batch_id = ? ORDER BY group_id",
            (batch_id,),
        ).fetchall()


def legs_of(books: Path, group_id: int) -> list[tuple]:
    with Ledger(books) as ledger:
        return ledger.conn.execute(
            "SELECT account_code, debit_cents, credit_cents FROM legs WHERE group_id = ? ORDER BY leg_no", (group_id,)
        ).fetchall()


def batch_of(books: Path, batch_id: str) -> tuple:
    with Ledger(books) as ledger:
        return ledger.conn.execute(
            "SELECT kind, caller, reason, row_count, group_count, commit_state FROM batches WHERE batch_id = ?",
            (batch_id,),
        ).fetchone()


def refusal(call) -> tuple[str, str]:
    with pytest.raises(LedgerBatchError) as info:
        call()
    return info.value.constraint, str(info.value)


# -- posting ------------------------------------------------------------------------------------------------------
def _post(books: Path, batch_id: str, groups, **kw):
    with Ledger(books) as ledger:
        return post_groups(ledger, batch_id, groups, **kw)


@pytest.mark.parametrize("shape", [list, tuple, iter], ids=["list", "tuple", "one-by-one"])
def test_a_posting_writes_each_group_and_its_legs_as_given_with_the_broker_spelled_once(books, shape):
    second = TRADE._replace(fitid="T-2", broker_code="Alpaca", memo="again", symbol="MSFT", content_hash=None)
    outcome = _post(books, "p1", shape([TRADE, second, TOPUP]), caller="ui", reason="month end")
    first_id = outcome.group_ids[0]
    assert outcome.group_ids == (first_id, first_id + 1, first_id + 2)
    assert (outcome.row_count, outcome.group_count, outcome.already_committed) == (8, 3, False)
    assert groups_of(books, "p1") == [
        (first_id, "POSTING", EFFECTIVE, "bought at the open", "AAPL", "ALPACA", "T-1", "c" * 64, None, 1, 3),
        (first_id + 1, "POSTING", EFFECTIVE, "again", "MSFT", "ALPACA", "T-2", None, None, 2, 3),
        (first_id + 2, "TAX_RESERVE", EFFECTIVE, "set aside tax", "", None, None, None, None, 3, 2),
    ]
    assert legs_of(books, first_id) == [("1100", 1234, 0), ("5100", 100, 0), ("1000", 0, 1334)]
    assert legs_of(books, first_id + 2) == [("1300", 2500, 0), ("1000", 0, 2500)]
    assert batch_of(books, "p1") == ("posting", "ui", "month end", 8, 3, "committed")


@pytest.mark.parametrize("shape", [list, iter], ids=["bulk", "one-by-one"])
def test_each_broker_of_a_posting_keeps_its_own_code(books, shape):
    codes = ["alpaca", "ibkr", "ALPACA", " Ibkr", "paper"]
    specs = [TOPUP._replace(broker_code=code, fitid=f"F{i}") for i, code in enumerate(codes)]
    _post(books, "p1", shape(specs))
    assert [row[5] for row in groups_of(books, "p1")] == ["ALPACA", "IBKR", "ALPACA", "IBKR", "PAPER"]


def test_a_posting_defaults_to_the_system_caller_and_a_plain_reason(books):
    _post(books, "p1", [TOPUP])
    assert batch_of(books, "p1")[:3] == ("posting", "system", "posting")


@pytest.mark.parametrize("shape", [list, iter], ids=["bulk", "one-by-one"])
def test_a_bad_group_is_named_by_its_rule_and_the_posting_writes_nothing(books, shape):
    bad = TOPUP._replace(legs=[("1300", 2500, 0), ("1000", 0, 2400)])
    constraint, message = refusal(lambda: _post(books, "p1", shape([TOPUP, bad])))
    assert constraint == "unbalanced" and "debits 2500 != credits 2400" in message
    single = TOPUP._replace(legs=[("1300", 2500, 0)])
    assert refusal(lambda: _post(books, "p2", shape([single])))[0] == "too_few_legs"
    assert refusal(lambda: _post(books, "p3", shape([TRADE._replace(broker_code="no such broker")])))[1]
    assert groups_of(books, "p1") == groups_of(books, "p2") == groups_of(books, "p3") == []


def test_a_bad_broker_code_is_refused_before_anything_is_written(books):
    with pytest.raises(LedgerBatchError) as info:
        _post(books, "p1", [TRADE._replace(broker_code="al paca")])
    assert "expected 1-16 ASCII letters" in str(info.value)


# -- reasons and actors -------------------------------------------------------------------------------------------
def test_a_reason_is_trimmed_and_needs_three_characters():
    assert require_reason("  wrong \n  account ", "x") == "wrong account"
    assert require_reason("abc", "x") == "abc"
    for short in ("", " ab ", None):
        with pytest.raises(TbotError) as info:
            require_reason(short, "a reversing entry")  # type: ignore[arg-type]  # None among them on purpose
        assert str(info.value) == "--reason: a reversing entry needs an explicit reason (3+ characters)"


def test_an_override_typed_in_the_ui_is_the_operators_anything_else_the_systems():
    assert (audit_actor("ui"), audit_actor("system"), audit_actor("cli")) == ("operator", "system", "system")


# -- reversing ----------------------------------------------------------------------------------------------------
def test_a_reversal_posts_the_mirror_image_linked_once_to_the_original(books, audit):
    gid = _post(books, "p1", [TRADE]).group_ids[0]
    with Ledger(books, audit=audit) as ledger:
        outcome = reverse_group(ledger, gid, reason="  booked   twice ")
        again = reverse_group(ledger, gid, reason="booked twice")
    assert outcome.batch_id == f"reversal:{gid}" and not outcome.already_committed
    assert again.already_committed and again.group_ids == ()
    [row] = groups_of(books, f"reversal:{gid}")
    rid, kind, effective, memo, symbol, broker, fitid, content_hash, reverses, group_no, leg_count = row
    assert (kind, memo, symbol, broker, fitid, reverses, leg_count) == (
        "REVERSAL",
        f"reversal of group {gid}: booked twice",
        "AAPL",
        None,
        None,
        gid,
        3,
    )
    assert effective.endswith("Z") and effective != EFFECTIVE
    assert legs_of(books, rid) == [("1100", 0, 1234), ("5100", 0, 100), ("1000", 1334, 0)]
    assert batch_of(books, f"reversal:{gid}")[:3] == ("reversal", "ui", "booked twice")
    assert [r.event for r in audit.tail(10)] == ["batch_committed", "batch_repeat"], "no manual_override event"


def test_a_reversal_without_an_audit_log_still_posts(books):
    gid = _post(books, "p1", [TRADE]).group_ids[0]
    with Ledger(books) as ledger:
        assert reverse_group(ledger, gid, reason="wrong", caller="system").group_count == 1
    assert batch_of(books, f"reversal:{gid}")[:2] == ("reversal", "system")


def test_reversing_a_group_that_does_not_exist_or_a_reversal_is_refused(books):
    gid = _post(books, "p1", [TRADE]).group_ids[0]
    with Ledger(books) as ledger:
        assert refusal(lambda: reverse_group(ledger, 999, reason="typo")) == (
            "unknown_group",
            "ledger validation failed (unknown_group): group 999 does not exist",
        )
        rid = reverse_group(ledger, gid, reason="typo").group_ids[0]
        assert refusal(lambda: reverse_group(ledger, rid, reason="undo the undo")) == (
            "reverse_reversal",
            f"ledger validation failed (reverse_reversal): group {rid} is itself a reversal; "
            "post the original entry again instead",
        )


@pytest.mark.parametrize("kind", HOLDINGS_KINDS)
def test_a_holdings_action_is_reversed_only_by_an_override(books, kind):
    gid = _post(books, "p1", [TOPUP._replace(kind=kind)]).group_ids[0]
    with Ledger(books) as ledger:
        assert refusal(lambda: reverse_group(ledger, gid, reason="too much")) == (
            "holdings_need_override",
            f"ledger validation failed (holdings_need_override): group {gid} is a {kind} holdings action; only an "
            f"audited manual override may undo it: tbot ledger reverse {gid} --override --reason ...",
        )
    assert groups_of(books, f"reversal:{gid}") == []


def test_an_override_of_an_ordinary_group_is_refused(books):
    gid = _post(books, "p1", [TRADE]).group_ids[0]
    with Ledger(books) as ledger:
        assert refusal(lambda: reverse_group(ledger, gid, reason="force it", override=True)) == (
            "override_not_holdings",
            f"ledger validation failed (override_not_holdings): group {gid} is a POSTING, not a holdings action "
            "(FLOAT_TOPUP, TAX_RESERVE, PAYROLL, REINVEST, OVERRIDE); reverse it without --override",
        )


@pytest.mark.parametrize("caller, actor", [("ui", "operator"), ("system", "system")])
def test_an_override_reverses_a_holdings_action_and_is_audited_once_as_a_warning(books, audit, caller, actor):
    gid = _post(books, "p1", [TOPUP]).group_ids[0]
    with Ledger(books, audit=audit) as ledger:
        outcome = reverse_group(ledger, gid, reason=" reserve  was wrong ", caller=caller, override=True)
        reverse_group(ledger, gid, reason="reserve was wrong", caller=caller, override=True)  # a repeat
    assert outcome.batch_id == f"reversal:{gid}"
    assert batch_of(books, f"reversal:{gid}")[:3] == ("override", caller, "reserve was wrong")
    [rid] = outcome.group_ids
    assert legs_of(books, rid) == [("1300", 0, 2500), ("1000", 2500, 0)]
    [row] = audit.tail(10, category="ledger_batch", search="manual_override")
    assert (row.event, row.severity, row.actor) == ("manual_override", "warning", actor)
    assert row.context_dict() == {
        "batch_id": f"reversal:{gid}",
        "action": "reverse",
        "group_id": gid,
        "group_kind": "TAX_RESERVE",
        "amount": "25.00",
        "reason": "reserve was wrong",
    }


def test_a_reversal_and_an_override_each_ask_for_their_own_reason(books):
    gid, other = _post(books, "p1", [TOPUP, TRADE]).group_ids
    with Ledger(books) as ledger:
        with pytest.raises(TbotError) as info:
            reverse_group(ledger, gid, reason="no", override=True)
        assert str(info.value) == (
            "--reason: a manual override of a holdings action needs an explicit reason (3+ characters)"
        )
        with pytest.raises(TbotError) as info:
            reverse_group(ledger, other, reason=" n ")
        assert str(info.value) == "--reason: a reversing entry needs an explicit reason (3+ characters)"


def test_a_buy_whose_lot_was_sold_is_reversed_only_after_the_sell(books):
    acts = [
        cash("d", "TRANSFER", "100000"),
        fill("b", "buy", "10", "100", minutes=1),
        fill("s", "sell", "4", "110", minutes=2),
    ]
    ingest_activities(books, "PAPER", acts, sync_run_id="day1")
    with Ledger(books) as ledger:
        buy, sell = (
            ledger.conn.execute("SELECT group_id FROM groups WHERE fitid = ?", (fitid,)).fetchone()[0]
            for fitid in ("b", "s")
        )
        assert refusal(lambda: reverse_group(ledger, buy, reason="wrong fill")) == (
            "lot_already_sold",
            f"ledger validation failed (lot_already_sold): group {buy} opened a lot that later sells relieved; "
            "reverse those sells first",
        )
        reverse_group(ledger, sell, reason="wrong fill")
        assert reverse_group(ledger, buy, reason="wrong fill").group_count == 1
