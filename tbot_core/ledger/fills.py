"""The fills the books hold, read back from a FILL group's legs, lots and lot reliefs.

The ledger does not keep an activity's fields; it keeps what they booked, and
that is enough to recover a fill:

- side: a buy opened a lot in its group, a sell relieved lots (exactly one of
  the two, or the books are inconsistent and the read fails);
- qty: the lot's quantity (buy) or the sum of the quantities relieved (sell);
- fee: the signed amount on the account the ``fees`` role pointed to when the
  group's batch was committed (a remap later does not change old fills);
- gross: minus (buy) or plus (sell) the cash and fee legs together, i.e. the
  ``round_to_cents(qty * price)`` sync booked; for a buy it must equal the
  lot's cost;
- price: gross / qty as an exact Decimal, shown to the cent when the division
  is exact at the cent (every paper fill: its price is whole cents), else
  exactly up to 6 decimal places, else rounded half-even to 6 places.  The
  books hold the gross in cents, so a broker's sub-cent price is shown as the
  cents booked per share, not as the broker's own figure.

A FILL group that a reversing entry undid is not a fill the books hold, and is
left out (the FIFO lots ignore it the same way).  Rows come oldest first (the
activity's time, then the group id).  Nothing here writes: the caller passes a
read-only connection.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal, localcontext

import apsw

from tbot_core.errors import TbotError
from tbot_core.money import CENT, canonical, from_cents

PRICE_PLACES = 6
_PRICE_STEP = Decimal(1).scaleb(-PRICE_PLACES)
_NOT_REVERSED = "NOT EXISTS (SELECT 1 FROM groups r WHERE r.reverses_group_id = g.group_id)"


@dataclass(frozen=True)
class LedgerFill:
    group_id: int
    broker_code: str
    fitid: str
    time_utc: str
    symbol: str
    side: str  # buy | sell
    qty: Decimal
    gross_cents: int  # qty * price as booked, always positive
    fee_cents: int

    @property
    def price(self) -> Decimal:
        """gross / qty, exact (see the module docstring for how it is shown)."""
        with localcontext() as ctx:
            ctx.prec = 60
            return from_cents(self.gross_cents) / self.qty

    def price_text(self) -> str:
        return price_text(self.price)


def price_text(price: Decimal) -> str:
    """To the cent when exact there; else exactly, up to 6 places; else rounded half-even to 6 places."""
    cents = price.quantize(CENT)
    if cents == price:
        return f"{cents:.2f}"
    stepped = price.quantize(_PRICE_STEP, rounding=ROUND_HALF_EVEN)
    return canonical(stepped)


def _role_history(conn: apsw.Connection, role: str) -> list[tuple[int, str]]:
    """(batch seq, account) of every mapping of ``role``, oldest first."""
    return [
        (int(seq), str(code))
        for seq, code in conn.execute(
            "SELECT b.seq, m.account_code FROM coa_mapping m JOIN batches b ON b.batch_id = m.batch_id "
            "WHERE m.role = ? ORDER BY b.seq, m.mapping_id",
            (role,),
        )
    ]


def _account_at(history: list[tuple[int, str]], seq: int, role: str, group_id: int) -> str:
    account = None
    for mapped_seq, code in history:
        if mapped_seq > seq:
            break
        account = code
    if account is None:
        raise TbotError(f"ledger.db: FILL group {group_id} predates any {role} account; run `tbot ledger check`")
    return account


def ledger_fills(conn: apsw.Connection) -> list[LedgerFill]:
    """Every FILL group not reversed, oldest first, as the fill it booked (one consistent read)."""
    with conn:  # one read transaction: the groups, legs and lots come from the same snapshot
        groups = list(
            conn.execute(
                "SELECT g.group_id, g.broker_code, g.fitid, g.effective_utc, g.symbol, b.seq FROM groups g "
                "JOIN batches b ON b.batch_id = g.batch_id WHERE g.kind = 'FILL' AND " + _NOT_REVERSED + " "
                "ORDER BY g.effective_utc, g.group_id"
            )
        )
        signed: dict[tuple[int, str], int] = {}
        for gid, account, cents in conn.execute(
            "SELECT l.group_id, l.account_code, sum(l.debit_cents - l.credit_cents) FROM legs l "
            "JOIN groups g ON g.group_id = l.group_id WHERE g.kind = 'FILL' GROUP BY l.group_id, l.account_code"
        ):
            signed[(int(gid), str(account))] = int(cents)
        bought: dict[int, list[tuple[Decimal, int]]] = {}
        for gid, qty, cost in conn.execute(
            "SELECT l.group_id, l.qty, l.cost_cents FROM lots l JOIN groups g ON g.group_id = l.group_id "
            "WHERE g.kind = 'FILL' ORDER BY l.lot_id"
        ):
            bought.setdefault(int(gid), []).append((Decimal(qty), int(cost)))
        sold: dict[int, Decimal] = {}
        for gid, qty in conn.execute(
            "SELECT lr.group_id, lr.qty FROM lot_reliefs lr JOIN groups g ON g.group_id = lr.group_id "
            "WHERE g.kind = 'FILL'"
        ):
            sold[int(gid)] = sold.get(int(gid), Decimal(0)) + Decimal(qty)
        cash_history, fee_history = _role_history(conn, "cash"), _role_history(conn, "fees")
    out = []
    for gid, broker, fitid, when, symbol, seq in groups:
        gid = int(gid)
        cash = signed.get((gid, _account_at(cash_history, int(seq), "cash", gid)), 0)
        fee = signed.get((gid, _account_at(fee_history, int(seq), "fees", gid)), 0)
        lots, relieved = bought.get(gid), sold.get(gid)
        if lots is not None and relieved is None and len(lots) == 1 and -(cash + fee) == lots[0][1]:
            side, qty, gross = "buy", lots[0][0], lots[0][1]
        elif relieved is not None and lots is None and cash + fee >= 0:
            side, qty, gross = "sell", relieved, cash + fee
        else:
            raise TbotError(
                f"ledger.db: FILL group {gid} (fitid {fitid}) does not read as one buy or one sell; "
                "run `tbot ledger check`"
            )
        if qty <= 0 or fee < 0:
            raise TbotError(f"ledger.db: FILL group {gid} (fitid {fitid}) books a quantity or fee below zero")
        out.append(LedgerFill(gid, str(broker or ""), str(fitid or ""), str(when), str(symbol), side, qty, gross, fee))
    return out
