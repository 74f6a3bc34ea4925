"""A batch's description and its draft, exact (mutmut sees these): ids, slot numbers, signed legs, bulk
groups, lots, reliefs and accounts, and every row inserted whatever the count.

Real ledger files and the real ``Ledger``; committing and refusing are in ``test_batch_commit_mutants.py``.
"""

from __future__ import annotations

import pytest

from tbot_core.errors import TbotError
from tbot_core.ledger.batch import BatchMeta
from tbot_core.ledger.draft import Draft, signed_legs
from tbot_core.ledger.failures import LedgerBatchError

from .batch_kit import PAIR, chain_problem, posting, query, run
from .helpers import EFFECTIVE, fresh_ledger


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


def test_add_groups_of_a_generator_answers_false_and_drafts_nothing(books):
    """A generator can be read only once, and the bulk path reads the groups twice: it leaves them to add_group."""
    seen = {}
    good = ("POSTING", EFFECTIVE, "ok", PAIR, "", None, None, None)
    run(books, posting(), lambda d: seen.update(answer=d.add_groups((g for g in [good]), str.upper), n=len(d.groups)))
    assert seen == {"answer": False, "n": 0}


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
