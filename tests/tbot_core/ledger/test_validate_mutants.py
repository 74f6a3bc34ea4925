"""Balanced-group validation in code, exact (mutmut sees these): every rule refuses with its own name and a
message naming the group, and the bulk check ``legs_pass`` agrees with the per-group rules.
"""

from __future__ import annotations

import pytest

from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.validate import _refuse_leg, check_batch, check_group, check_signed_group, legs_pass

ACCOUNTS = frozenset({"1000", "1100", "5100"})


def refusal(call, *args) -> tuple[str, str]:
    with pytest.raises(LedgerBatchError) as info:
        call(*args)
    assert info.value.category == "validation"
    prefix = f"ledger validation failed ({info.value.constraint}): "
    assert str(info.value).startswith(prefix)
    return info.value.constraint, str(info.value)[len(prefix) :]


# -- check_group --------------------------------------------------------------------------------------------------
def test_a_balanced_group_of_one_sided_legs_on_known_accounts_passes():
    check_group(1, None, [("1000", 0, 500), ("1100", 400, 0), ("5100", 100, 0)], ACCOUNTS)
    check_group(2, "F-1", (("1000", 1, 0), ("1100", 0, 1)), ACCOUNTS)


@pytest.mark.parametrize(
    "leg, rule, detail",
    [
        (("1000", 5.0, 0), "amount_type", "leg amounts must be integer cents"),
        (("1000", 0, True), "amount_type", "leg amounts must be integer cents"),
        (("1000", "5", 0), "amount_type", "leg amounts must be integer cents"),
        (("1000", -5, 0), "negative_amount", "a leg on account 1000 is negative"),
        (("1000", 0, -5), "negative_amount", "a leg on account 1000 is negative"),
        (("1000", 5, 5), "one_side", "a leg on account 1000 must have exactly one non-zero side"),
        (("1000", 0, 0), "one_side", "a leg on account 1000 must have exactly one non-zero side"),
        (("9999", 5, 0), "unknown_account", "account '9999' is not in the chart of accounts"),
    ],
)
def test_each_bad_leg_is_refused_by_its_own_rule_naming_group_and_fitid(leg, rule, detail):
    legs = [("1100", 0, 5), leg]
    assert refusal(check_group, 7, "F-9", legs, ACCOUNTS) == (rule, f"group 7 (fitid F-9): {detail}")
    assert refusal(check_group, 7, None, [leg, ("1100", 0, 5)], ACCOUNTS) == (rule, f"group 7: {detail}")


@pytest.mark.parametrize("legs", [[], [("1000", 5, 0)]])
def test_a_group_needs_at_least_two_legs(legs):
    assert refusal(check_group, 3, None, legs, ACCOUNTS) == (
        "too_few_legs",
        f"group 3: a group needs at least two legs, has {len(legs)}",
    )


def test_a_short_group_names_its_fitid():
    assert refusal(check_group, 3, "F-3", [("1000", 5, 0)], ACCOUNTS)[1] == (
        "group 3 (fitid F-3): a group needs at least two legs, has 1"
    )
    assert refusal(check_signed_group, 3, "F-3", [("1000", 5)], ACCOUNTS)[1] == (
        "group 3 (fitid F-3): a group needs at least two legs, has 1"
    )


def test_an_unbalanced_group_is_refused_with_both_totals():
    legs = [("1000", 0, 700), ("1100", 500, 0), ("5100", 150, 0)]
    assert refusal(check_group, 4, "F-4", legs, ACCOUNTS) == (
        "unbalanced",
        "group 4 (fitid F-4): debits 650 != credits 700 (cents)",
    )


def test_the_leg_rules_come_before_the_count_and_the_count_before_the_balance():
    assert refusal(check_group, 1, None, [("9999", 5, 0)], ACCOUNTS)[0] == "unknown_account"
    assert refusal(check_group, 1, None, [("1000", 5, 0)], ACCOUNTS)[0] == "too_few_legs"


# -- check_signed_group -------------------------------------------------------------------------------------------
def test_signed_pairs_that_sum_to_zero_on_known_accounts_pass():
    check_signed_group(1, None, [("1000", -500), ("1100", 400), ("5100", 100)], ACCOUNTS)


@pytest.mark.parametrize("cents", [5, -5])
def test_a_signed_pair_on_an_unknown_account_is_refused_as_unknown_whatever_its_sign(cents):
    assert refusal(check_signed_group, 8, "F-8", [("1000", -cents), ("9999", cents)], ACCOUNTS) == (
        "unknown_account",
        "group 8 (fitid F-8): account '9999' is not in the chart of accounts",
    )


@pytest.mark.parametrize("cents", [5.0, -5.0, True])
def test_a_signed_pair_that_is_not_integer_cents_is_refused(cents):
    assert refusal(check_signed_group, 8, None, [("1000", 5), ("1100", cents)], ACCOUNTS) == (
        "amount_type",
        "group 8: leg amounts must be integer cents",
    )


@pytest.mark.parametrize("pairs", [[], [("1000", 5)]])
def test_a_signed_group_needs_at_least_two_pairs(pairs):
    assert refusal(check_signed_group, 2, None, pairs, ACCOUNTS) == (
        "too_few_legs",
        f"group 2: a group needs at least two legs, has {len(pairs)}",
    )


def test_an_unbalanced_signed_group_names_its_debit_and_credit_totals():
    assert refusal(check_signed_group, 5, None, [("1000", 10), ("1100", -7), ("5100", 2)], ACCOUNTS) == (
        "unbalanced",
        "group 5: debits 12 != credits 7 (cents)",
    )
    assert refusal(check_signed_group, 5, None, [("1000", 3), ("1100", -7)], ACCOUNTS) == (
        "unbalanced",
        "group 5: debits 3 != credits 7 (cents)",
    )
    assert refusal(check_signed_group, 6, "F-6", [("1000", 1), ("1100", -3)], ACCOUNTS) == (
        "unbalanced",
        "group 6 (fitid F-6): debits 1 != credits 3 (cents)",
    )


# -- legs_pass ----------------------------------------------------------------------------------------------------
def rows(*groups: list[tuple[str, int, int]]) -> tuple[list[tuple], list[int]]:
    """Drafted leg rows (group_id, leg_no, account, debit, credit, leg_count) and the index of each group's last."""
    out, ends = [], []
    for gid, legs in enumerate(groups, 1):
        out += [(gid, no, account, debit, credit, len(legs)) for no, (account, debit, credit) in enumerate(legs, 1)]
        ends.append(len(out) - 1)
    return out, ends


def test_legs_pass_accepts_balanced_groups_and_an_empty_batch():
    assert legs_pass([], [], ACCOUNTS) is True
    assert legs_pass(*rows([("1000", 0, 5), ("1100", 5, 0)], [("1100", 0, 9), ("5100", 9, 0)]), ACCOUNTS) is True


@pytest.mark.parametrize(
    "bad",
    [
        ("1000", 5.0, 0),
        ("1000", 0, 5.0),
        ("1000", True, 0),
        ("1000", 0, False),
        ("1000", -5, 0),
        ("1000", 0, -5),
        ("1000", 5, 5),
        ("1000", 0, 0),
        ("9999", 5, 0),
    ],
)
def test_legs_pass_refuses_every_leg_check_group_refuses(bad):
    good = [("1100", 0, 5), ("5100", 5, 0)]
    legs, ends = rows(good, [("1100", 0, 5), bad] if bad[1] else [("1100", 5, 0), bad], good)
    assert legs_pass(legs, ends, ACCOUNTS) is False


@pytest.mark.parametrize(
    "legs",
    [
        [("1000", -5, 0), ("1100", 5, 0)],
        [("1000", 0, -5), ("1100", 0, 5)],
        [("1000", 5, 5), ("1100", 3, 3)],
        [("1000", 0, 0), ("1100", 5, 0), ("5100", 0, 5)],
        [("1000", 0, 0), ("1100", 3, 3)],  # one zero per leg on average: only "no leg is x/x" refuses it
    ],
    ids=["negative-debit", "negative-credit", "two-sided", "empty-leg", "empty-and-two-sided"],
)
def test_legs_pass_refuses_a_bad_leg_even_in_a_group_that_balances(legs):
    assert legs_pass(*rows(legs), ACCOUNTS) is False
    with pytest.raises(LedgerBatchError):
        check_group(1, None, legs, ACCOUNTS)


def test_legs_pass_refuses_a_group_unbalanced_even_when_the_next_group_makes_up_the_difference():
    legs, ends = rows([("1000", 0, 5), ("1100", 7, 0)], [("1000", 0, 7), ("1100", 5, 0)])
    assert legs_pass(legs, ends, ACCOUNTS) is False
    legs, ends = rows([("1000", 0, 5), ("1100", 5, 0)], [("1000", 0, 7), ("1100", 6, 0)])
    assert legs_pass(legs, ends, ACCOUNTS) is False, "the last group is checked too"


# -- check_batch --------------------------------------------------------------------------------------------------
def group(gid: int, broker: str | None, fitid: str | None) -> tuple:
    return (gid, "b", "FILL", "t", "memo", "", broker, fitid, None, None, gid, 2)


def test_a_fitid_may_appear_once_per_broker_in_a_batch():
    check_batch([group(1, "ALPACA", "F1"), group(2, "IBKR", "F1"), group(3, None, None), group(4, None, None)], [])
    assert refusal(check_batch, [group(1, "ALPACA", "F1"), group(2, "ALPACA", "F2"), group(3, "ALPACA", "F1")], []) == (
        "duplicate_fitid",
        "fitid F1 of broker ALPACA appears twice in the batch",
    )
    repeated_later = [group(1, "ALPACA", "F2"), group(2, "ALPACA", "F1"), group(3, "ALPACA", "F1")]
    assert refusal(check_batch, repeated_later, [])[1] == "fitid F1 of broker ALPACA appears twice in the batch"


def test_a_leg_outside_any_group_is_refused_as_an_orphan_or_as_added_late():
    drafted = [group(1, "ALPACA", "F1"), group(2, None, None)]
    assert refusal(check_batch, drafted, [(9, "1000", 5, 0), (1, "1100", 0, 5)]) == (
        "orphan_leg",
        "a leg on account 1000 points at group 9, which is not in the batch",
    )
    assert refusal(check_batch, drafted, [(1, "1100", 0, 5)]) == (
        "leg_outside_group",
        "group 1 (fitid F1): a leg on account 1100 was added after its group was drafted "
        "(a group's legs are fixed when it is added)",
    )
    assert refusal(check_batch, drafted, [(2, "5100", 5, 0)])[1].startswith("group 2: a leg on account 5100")


def test_a_leg_that_breaks_no_rule_is_still_refused_if_it_reaches_the_refusal():
    assert refusal(_refuse_leg, "group 1", "1000", 5, 0, ACCOUNTS) == (
        "leg",
        "group 1: a leg on account 1000 was refused",
    )
