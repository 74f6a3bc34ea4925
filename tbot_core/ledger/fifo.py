"""FIFO cost lots: buys open lots, sells relieve the oldest first.

Lot state is rebuilt from the append-only ``lots``/``lot_reliefs`` rows,
ignoring any whose group was reversed, so a reversing entry also undoes its
effect on cost basis.  A sell larger than the open lots fails the batch:
short positions are not booked (fail closed rather than guess a basis).
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal
from typing import Any

from tbot_core.ledger.draft import Draft
from tbot_core.ledger.failures import validation
from tbot_core.money import canonical

_NOT_REVERSED = "NOT EXISTS (SELECT 1 FROM groups r WHERE r.reverses_group_id = {col})"


class LotBook:
    """Open lots of one broker, loaded per symbol on first use inside a batch."""

    def __init__(self, draft: Draft, broker_code: str) -> None:
        self.draft = draft
        self.broker_code = broker_code
        self._open: dict[str, list[list[Any]]] = {}  # symbol -> [[lot_id, qty_left, cost_left], ...] oldest first

    def _lots(self, symbol: str) -> list[list[Any]]:
        lots = self._open.get(symbol)
        if lots is None:
            conn = self.draft.conn
            lots = [
                [lot_id, Decimal(qty), cost]
                for lot_id, qty, cost in conn.execute(
                    "SELECT l.lot_id, l.qty, l.cost_cents FROM lots l WHERE l.broker_code = ? AND l.symbol = ? AND "
                    + _NOT_REVERSED.format(col="l.group_id")
                    + " ORDER BY l.lot_id",
                    (self.broker_code, symbol),
                )
            ]
            if lots:
                index = {lot[0]: lot for lot in lots}
                for lot_id, qty, cost in conn.execute(
                    "SELECT lr.lot_id, lr.qty, lr.cost_cents FROM lot_reliefs lr JOIN lots l ON l.lot_id = lr.lot_id "
                    "WHERE l.broker_code = ? AND l.symbol = ? AND " + _NOT_REVERSED.format(col="lr.group_id"),
                    (self.broker_code, symbol),
                ):
                    if lot_id in index:
                        index[lot_id][1] -= Decimal(qty)
                        index[lot_id][2] -= cost
                lots = [lot for lot in lots if lot[1] > 0]
            self._open[symbol] = lots
        return lots

    def buy(self, group_id: int, symbol: str, qty: Decimal, cost_cents: int) -> None:
        lot_id = self.draft.open_lot(group_id, self.broker_code, symbol, canonical(qty), cost_cents)
        self._lots(symbol).append([lot_id, qty, cost_cents])

    def sell(self, group_id: int, symbol: str, qty: Decimal, fitid: str) -> int:
        """Relieve ``qty`` oldest-first; returns the cost relieved in cents."""
        lots = self._lots(symbol)
        if not lots or qty > lots[0][1]:  # the oldest lot alone does not cover it: count everything held
            available = sum((lot[1] for lot in lots), Decimal(0))
            if qty > available:
                raise validation(
                    "sell_exceeds_lots",
                    f"fitid {fitid}: sell of {canonical(qty)} {symbol} exceeds the "
                    f"{canonical(available)} held (short positions are not booked)",
                )
        left, relieved = qty, 0
        while left > 0:
            lot = lots[0]
            take = min(left, lot[1])
            cost = (
                lot[2]
                if take == lot[1]
                else int((Decimal(lot[2]) * take / lot[1]).quantize(Decimal(1), ROUND_HALF_EVEN))
            )
            self.draft.relieve_lot(lot[0], group_id, canonical(take), cost)
            lot[1] -= take
            lot[2] -= cost
            relieved += cost
            left -= take
            if lot[1] == 0:
                lots.pop(0)
        return relieved
