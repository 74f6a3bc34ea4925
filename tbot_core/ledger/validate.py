"""Balanced-group validation in code, before any row reaches SQLite.

The schema enforces the same rules (CHECKs, foreign keys, slots, the batch
seal); checking here first gives a message naming the group and rule, and
keeps a bad batch from costing a write.  A group is checked as it is drafted
(``check_group``), while its legs are still in hand, so the rules cost no
second pass over every leg; what spans groups is checked once per batch
(``check_batch``).
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from itertools import accumulate
from operator import itemgetter, sub
from typing import Any, NoReturn

from tbot_core.ledger.failures import validation


def _name(group_id: int, fitid: str | None) -> str:
    return f"group {group_id}" + (f" (fitid {fitid})" if fitid is not None else "")


def check_group(
    group_id: int, fitid: str | None, legs: Sequence[tuple[str, int, int]], accounts: Collection[str]
) -> None:
    """``legs`` are ``(account_code, debit_cents, credit_cents)``: at least two, each one-sided, known and balanced."""
    debit_total = credit_total = 0
    for account, debit, credit in legs:
        # One combined test for the common valid leg; any failure re-runs the rules one by one to name it.
        if (
            type(debit) is not int
            or type(credit) is not int
            or debit < 0
            or credit < 0
            or (debit == 0) == (credit == 0)
            or account not in accounts
        ):
            _refuse_leg(_name(group_id, fitid), account, debit, credit, accounts)
        debit_total += debit
        credit_total += credit
    if len(legs) < 2:
        raise validation("too_few_legs", f"{_name(group_id, fitid)}: a group needs at least two legs, has {len(legs)}")
    if debit_total != credit_total:
        raise validation(
            "unbalanced", f"{_name(group_id, fitid)}: debits {debit_total} != credits {credit_total} (cents)"
        )


def check_signed_group(
    group_id: int, fitid: str | None, pairs: Sequence[tuple[str, int]], accounts: Collection[str]
) -> None:
    """The rules of ``check_group`` for ``(account_code, signed cents)`` pairs with the zero pairs dropped:
    a positive amount is a debit and a negative one a credit, so one-sidedness holds by construction."""
    total = 0
    for account, cents in pairs:
        if type(cents) is not int or account not in accounts:
            _refuse_leg(_name(group_id, fitid), account, max(cents, 0), max(-cents, 0), accounts)
        total += cents
    if len(pairs) < 2:
        raise validation("too_few_legs", f"{_name(group_id, fitid)}: a group needs at least two legs, has {len(pairs)}")
    if total:
        debit = sum(cents for _, cents in pairs if cents > 0)
        raise validation("unbalanced", f"{_name(group_id, fitid)}: debits {debit} != credits {debit - total} (cents)")


def legs_pass(legs: list[tuple[Any, ...]], ends: Sequence[int], accounts: Collection[str]) -> bool:
    """Whether drafted leg rows ``(group_id, leg_no, account_code, debit_cents, credit_cents, leg_count)`` all pass
    ``check_group``'s leg rules and every group balances; a group's last leg is at each index of ``ends``.

    The same rules as ``check_group`` for a whole batch at once, in a few passes over columns that run in C: a
    batch of tens of thousands of groups spent longer in per-leg checks than SQLite spent inserting the rows.
    False does not say what is wrong; the caller then checks group by group, which names the first fault.
    """
    if not legs:
        return True
    debits, credits = list(map(itemgetter(3), legs)), list(map(itemgetter(4), legs))
    if set(map(type, debits)) != {int} or set(map(type, credits)) != {int}:  # exactly int: a bool is not cents
        return False
    if min(debits) < 0 or min(credits) < 0:
        return False
    # Non-negative, so a leg has one zero side at most when debit != credit (no leg is 0/0), and then every leg
    # has exactly one when the zeros number one per leg (no leg is x/y either).
    signed = list(map(sub, debits, credits))
    if 0 in signed or debits.count(0) + credits.count(0) != len(legs):
        return False
    if not set(map(itemgetter(2), legs)) <= set(accounts):
        return False
    # Running debit - credit is zero at the end of every group exactly when each group balances.
    running = list(accumulate(signed))
    return not any(map(running.__getitem__, ends))


def check_batch(groups: list[tuple[Any, ...]], stray_legs: list[tuple[Any, ...]]) -> None:
    """Groups are the drafted rows ``(group_id, batch_id, kind, effective, memo, symbol, broker, fitid, ...)``;
    ``stray_legs`` are ``(group_id, account_code, debit_cents, credit_cents)`` added outside a group."""
    keyed = [(group[6], group[7]) for group in groups if group[7] is not None]
    if len(set(keyed)) != len(keyed):  # one pass in C answers "all distinct"; the loop below names the first repeat
        fitids: set[tuple[str, str]] = set()
        for key in keyed:
            if key in fitids:
                raise validation("duplicate_fitid", f"fitid {key[1]} of broker {key[0]} appears twice in the batch")
            fitids.add(key)
    if stray_legs:
        drafted = {group[0]: group for group in groups}
        gid, account = stray_legs[0][0], stray_legs[0][1]
        if gid not in drafted:
            raise validation(
                "orphan_leg", f"a leg on account {account} points at group {gid}, which is not in the batch"
            )
        raise validation(
            "leg_outside_group",
            f"{_name(gid, drafted[gid][7])}: a leg on account {account} was added after its "
            "group was drafted (a group's legs are fixed when it is added)",
        )


def _refuse_leg(name: str, account: str, debit: object, credit: object, accounts: Collection[str]) -> NoReturn:
    if type(debit) is not int or type(credit) is not int:
        raise validation("amount_type", f"{name}: leg amounts must be integer cents")
    if debit < 0 or credit < 0:
        raise validation("negative_amount", f"{name}: a leg on account {account} is negative")
    if (debit == 0) == (credit == 0):
        raise validation("one_side", f"{name}: a leg on account {account} must have exactly one non-zero side")
    if account not in accounts:
        raise validation("unknown_account", f"{name}: account {account!r} is not in the chart of accounts")
    raise validation("leg", f"{name}: a leg on account {account} was refused")  # unreachable: one rule above failed
