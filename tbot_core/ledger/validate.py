"""Balanced-group validation in code, before any row reaches SQLite.

The schema enforces the same rules (CHECKs, foreign keys, the batch seal);
checking here first gives a message naming the group and rule, and keeps a
bad batch from costing a write.
"""

from __future__ import annotations

from collections.abc import Collection
from typing import NoReturn

from tbot_core.ledger.failures import validation


def _name(group: tuple) -> str:
    gid, fitid = group[0], group[7]
    return f"group {gid}" + (f" (fitid {fitid})" if fitid is not None else "")


def validate_rows(groups: list[tuple], legs: list[tuple], accounts: Collection[str]) -> None:
    """Groups are ``(group_id, batch_id, kind, effective, memo, symbol, broker, fitid, hash, reverses)``;
    legs are ``(group_id, account_code, debit_cents, credit_cents)``."""
    totals: dict[int, list[int]] = {}
    by_id: dict[int, tuple] = {}
    fitids: set[tuple[str, str]] = set()
    for group in groups:
        gid = group[0]
        if gid in by_id:
            raise validation("duplicate_group", f"group id {gid} appears twice")
        by_id[gid] = group
        totals[gid] = [0, 0, 0]
        if group[7] is not None:
            key = (group[6], group[7])
            if key in fitids:
                raise validation("duplicate_fitid", f"fitid {group[7]} of broker {group[6]} appears twice in the batch")
            fitids.add(key)
    get = totals.get
    for gid, account, debit, credit in legs:
        acc = get(gid)
        # One combined test for the common valid leg; any failure re-runs the rules one by one to name it.
        if (acc is None or type(debit) is not int or type(credit) is not int or debit < 0 or credit < 0
                or (debit == 0) == (credit == 0) or account not in accounts):
            _refuse_leg(by_id, acc, gid, account, debit, credit, accounts)
        acc[0] += debit
        acc[1] += credit
        acc[2] += 1
    for gid, (debit, credit, count) in totals.items():
        if count < 2:
            raise validation("too_few_legs", f"{_name(by_id[gid])}: a group needs at least two legs, has {count}")
        if debit != credit:
            raise validation("unbalanced", f"{_name(by_id[gid])}: debits {debit} != credits {credit} (cents)")


def _refuse_leg(by_id: dict[int, tuple], acc: list[int] | None, gid: int, account: str, debit: object, credit: object,
                accounts: Collection[str]) -> NoReturn:
    if acc is None:
        raise validation("orphan_leg", f"a leg on account {account} points at group {gid}, which is not in the batch")
    if type(debit) is not int or type(credit) is not int:
        raise validation("amount_type", f"{_name(by_id[gid])}: leg amounts must be integer cents")
    if debit < 0 or credit < 0:
        raise validation("negative_amount", f"{_name(by_id[gid])}: a leg on account {account} is negative")
    if (debit == 0) == (credit == 0):
        raise validation("one_side", f"{_name(by_id[gid])}: a leg on account {account} must have exactly one non-zero side")
    if account not in accounts:
        raise validation("unknown_account", f"{_name(by_id[gid])}: account {account!r} is not in the chart of accounts")
    raise validation("leg", f"{_name(by_id[gid])}: a leg on account {account} was refused")  # unreachable: one rule above failed
