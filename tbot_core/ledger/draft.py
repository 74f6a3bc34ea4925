"""Drafting a batch's rows under the write lock, apart from writing them.

``Ledger.run`` owns the transaction; every feature (posting, sync, chart of
accounts, hooks) only fills a :class:`Draft`.  Keeping the drafting here keeps
the API those features build against separate from the commit/rollback path,
and lets each be read and mutation-tested on its own.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from itertools import accumulate
from operator import itemgetter
from typing import TYPE_CHECKING, Any

import apsw

from tbot_core.db import one_row
from tbot_core.ledger.validate import check_group, check_signed_group, legs_pass

if TYPE_CHECKING:
    from tbot_core.ledger.batch import BatchMeta


def signed_legs(pairs: Iterable[tuple[str, int]]) -> list[tuple[str, int, int]]:
    """Legs from ``(account, signed cents)`` pairs: positive debits, negative credits, zero dropped."""
    legs = []
    for account, cents in pairs:
        if cents > 0:
            legs.append((account, cents, 0))
        elif cents < 0:
            legs.append((account, 0, -cents))
    return legs


class Draft:
    """The rows of one batch, built under the write lock; nothing is written until ``Ledger.run`` has them all.

    Each group is validated as it is added (``check_group``) and gets its slot
    numbers: ``group_no`` within the batch and ``leg_no``/``leg_count`` for its
    legs, which the schema uses to refuse any later addition.  Every row id
    (group, lot, relief, mapping) is assigned here rather than by SQLite, so
    the batch hash can be computed from these rows without reading them back.
    """

    def __init__(self, conn: apsw.Connection, meta: BatchMeta) -> None:
        self.conn = conn
        self.meta = meta
        top: tuple[int, int, int, int] = one_row(
            conn.execute(
                "SELECT (SELECT coalesce(max(group_id), 0) FROM groups), (SELECT coalesce(max(lot_id), 0) FROM lots), "
                "(SELECT coalesce(max(relief_id), 0) FROM lot_reliefs), "
                "(SELECT coalesce(max(mapping_id), 0) FROM coa_mapping)"
            )
        )
        self._next_group, self._next_lot, self._next_relief, self._next_mapping = (n + 1 for n in top)
        self._accounts: set[str] | None = None
        self.groups: list[tuple[Any, ...]] = []
        self.legs: list[tuple[Any, ...]] = []
        self.stray_legs: list[tuple[Any, ...]] = []
        self.lots: list[tuple[Any, ...]] = []
        self.reliefs: list[tuple[Any, ...]] = []
        self.accounts: list[tuple[Any, ...]] = []
        self.mappings: list[tuple[Any, ...]] = []
        self.skipped_known = 0

    def peek_group_id(self) -> int:
        """The id the next ``add_group`` will use (a sell needs it to relieve lots before its legs exist)."""
        return self._next_group

    def add_group(
        self,
        kind: str,
        effective_utc: str,
        memo: str,
        legs: Iterable[tuple[str, int, int]],
        *,
        symbol: str = "",
        broker_code: str | None = None,
        fitid: str | None = None,
        content_hash: str | None = None,
        reverses: int | None = None,
    ) -> int:
        """Validate and draft one group; ``legs`` are ``(account_code, debit_cents, credit_cents)``."""
        legs = legs if isinstance(legs, (list, tuple)) else list(legs)
        gid = self._next_group
        check_group(gid, fitid, legs, self.account_codes())
        self._next_group += 1
        count = len(legs)
        self.groups.append(
            (
                gid,
                self.meta.batch_id,
                kind,
                effective_utc,
                memo,
                symbol,
                broker_code,
                fitid,
                content_hash,
                reverses,
                len(self.groups) + 1,
                count,
            )
        )
        self.legs.extend(
            [(gid, no, account, debit, credit, count) for no, (account, debit, credit) in enumerate(legs, 1)]
        )
        return gid

    def add_groups(self, groups: Sequence[tuple[Any, ...]], broker_code: Callable[[str], str]) -> bool:
        """Draft every group of ``groups``, shaped as ``posting.GroupSpec``, each non-NULL broker code spelled by
        ``broker_code``, with the rows ``add_group`` would draft for them; or draft nothing and return False.

        The bulk path for a batch of many groups: one loop drafts the rows and ``legs_pass`` checks every leg in
        a few passes, where a call to ``check_group`` per group cost more than SQLite's insert of its rows.  It
        answers only "all valid"; on False (a fault, or legs that are not a list or tuple and could be read only
        once) the caller drafts group by group with ``add_group``, whose checks name the first fault as always.
        """
        if not isinstance(groups, (list, tuple)):  # read twice below: once for the groups, once for their legs
            return False
        batch_id, gid, no = self.meta.batch_id, self._next_group, len(self.groups)
        groups_out: list[tuple[Any, ...]] = []
        add = groups_out.append
        spelled: dict[str | None, str | None] = {None: None}  # a batch names a handful of brokers: spell each once
        try:
            for kind, effective_utc, memo, legs, symbol, code, fitid, content_hash in groups:
                count = len(legs) if isinstance(legs, (list, tuple)) else 0
                if count < 2:
                    return False
                no += 1
                broker = spelled[code] if code in spelled else spelled.setdefault(code, broker_code(code))
                add((gid, batch_id, kind, effective_utc, memo, symbol, broker, fitid, content_hash, None, no, count))
                gid += 1
            # One comprehension for every leg of the batch: one per group cost a call per group.
            legs_out = [
                (group[0], n, account, debit, credit, group[11])
                for group, legs in zip(groups_out, map(itemgetter(3), groups))
                for n, (account, debit, credit) in enumerate(legs, 1)
            ]
            ends = [end - 1 for end in accumulate(map(itemgetter(11), groups_out))]
            if not legs_pass(legs_out, ends, self.account_codes()):
                return False
        except Exception:  # whatever it was, the group-by-group path the caller runs next names it
            return False
        self.groups += groups_out
        self.legs += legs_out
        self._next_group = gid
        return True

    def add_signed_group(
        self,
        kind: str,
        effective_utc: str,
        memo: str,
        pairs: Iterable[tuple[str, int]],
        symbol: str,
        broker_code: str | None,
        fitid: str | None,
        content_hash: str | None,
    ) -> int:
        """``add_group`` with legs given as ``(account, signed cents)`` pairs: positive debits, negative credits,
        zero dropped.  The broker sync's hot path, so it builds the leg rows in one pass without the keywords."""
        live = [pair for pair in pairs if pair[1]]
        gid = self._next_group
        check_signed_group(gid, fitid, live, self.account_codes())
        self._next_group = gid + 1
        count = len(live)
        self.groups.append(
            (
                gid,
                self.meta.batch_id,
                kind,
                effective_utc,
                memo,
                symbol,
                broker_code,
                fitid,
                content_hash,
                None,
                len(self.groups) + 1,
                count,
            )
        )
        self.legs.extend(
            [
                (gid, no, account, cents, 0, count) if cents > 0 else (gid, no, account, 0, -cents, count)
                for no, (account, cents) in enumerate(live, 1)
            ]
        )
        return gid

    def add_leg_to(self, group_id: int, account: str, debit: int, credit: int) -> None:
        """A raw leg by group id, outside any group (lets tests prove an orphan leg is refused)."""
        self.stray_legs.append((group_id, account, debit, credit))

    def open_lot(self, group_id: int, broker_code: str, symbol: str, qty: str, cost_cents: int) -> int:
        lot_id = self._next_lot
        self._next_lot += 1
        self.lots.append((lot_id, group_id, broker_code, symbol, qty, cost_cents))
        return lot_id

    def relieve_lot(self, lot_id: int, group_id: int, qty: str, cost_cents: int) -> None:
        self.reliefs.append((self._next_relief, lot_id, group_id, qty, cost_cents))
        self._next_relief += 1

    def add_account(self, code: str, name: str, kind: str) -> None:
        self.accounts.append((code, name, kind, self.meta.batch_id))
        if self._accounts is not None:
            self._accounts.add(code)

    def map_role(self, role: str, account_code: str) -> None:
        self.mappings.append((self._next_mapping, role, account_code, self.meta.batch_id))
        self._next_mapping += 1

    def account_codes(self) -> set[str]:
        """Accounts a leg may use: the chart as this transaction sees it plus accounts drafted in this batch."""
        if self._accounts is None:
            self._accounts = {row[0] for row in self.conn.execute("SELECT code FROM accounts")}
            self._accounts.update(row[0] for row in self.accounts)
        return self._accounts
