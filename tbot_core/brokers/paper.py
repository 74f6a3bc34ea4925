"""The paper broker: fills against the replayed bars, no account needed.

Market orders fill at the last mark with ``PAPER_SLIPPAGE_BPS`` against the
trader and ``PAPER_COMMISSION_PER_SHARE`` (at least ``PAPER_COMMISSION_MIN``).
Limit orders rest until a bar trades through them.  Long only: a sell larger
than the position is refused.  Everything is persisted in ``core.db`` in one
transaction per fill, so a restart (even after SIGKILL) resumes the same
cash and positions.  A resubmitted ``client_order_id`` returns the original
order instead of trading twice, which makes replaying a few bars after a crash
harmless.
"""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

import apsw

from tbot_core.bars import Bar
from tbot_core.brokers.base import Account, Broker, Fill, Order, OrderRequest, Position
from tbot_core.config import Settings
from tbot_core.core_store import CoreStore
from tbot_core.errors import BrokerError
from tbot_core.money import CENT, from_cents, quote_cents, round_to_cents, to_cents
from tbot_core.timeutil import iso_z, parse_iso_z

BPS = Decimal(10000)


class PaperBroker(Broker):
    code = "PAPER"
    simulated = True

    def __init__(self, store: CoreStore, settings: Settings) -> None:
        self.store = store
        self.settings = settings
        self._marks: dict[str, int] = store.marks()
        self._bar_utc: dict[str, str] = {}
        self._open_limits: dict[str, tuple] = {}
        with store.transaction() as conn:
            opening = round_to_cents(settings.paper_starting_cash)
            conn.execute(
                "INSERT OR IGNORE INTO paper_account (id, cash_cents, opening_cash_cents, opened_utc) VALUES (1, ?, ?, ?)",
                (opening, opening, iso_z()),
            )
        for row in store.query(
            "SELECT order_id, client_order_id, symbol, side, qty, limit_cents, strategy, bar_utc "
            "FROM paper_orders WHERE status = 'accepted'"
        ):
            self._open_limits[row[0]] = row

    # -- market data in ---------------------------------------------------------------------
    def on_bar(self, bar: Bar, close_cents: int, bar_utc: str) -> list[Fill]:
        """Mark the symbol and fill any resting limit order the bar traded through."""
        self._marks[bar.symbol] = close_cents
        self._bar_utc[bar.symbol] = bar_utc
        if not self._open_limits:
            return []
        fills = []
        for order_id, row in list(self._open_limits.items()):
            _, _, symbol, side, qty, limit_cents, strategy, _ = row
            if symbol != bar.symbol:
                continue
            low, high = quote_cents(bar.low), quote_cents(bar.high)  # the cents the engine marks with
            if (side == "buy" and low <= limit_cents) or (side == "sell" and high >= limit_cents):
                fills.append(self._fill(order_id, symbol, side, qty, limit_cents, strategy, bar_utc))
                self._open_limits.pop(order_id, None)
        return fills

    def marks(self) -> dict[str, int]:
        return self._marks

    # -- Broker interface -------------------------------------------------------------------------
    def account(self) -> Account:
        cash = self._cash_cents()
        equity = cash + sum(qty * self._marks.get(sym, cost // qty) for sym, qty, cost, _ in self._position_rows())
        return Account(cash=from_cents(cash), equity=from_cents(equity), buying_power=from_cents(cash))

    def positions(self) -> list[Position]:
        return [
            Position(
                sym, Decimal(qty), from_cents(cost) / qty, from_cents(self._marks[sym]) if sym in self._marks else None
            )
            for sym, qty, cost, _ in self._position_rows()
        ]

    def position_strategies(self) -> dict[str, str]:
        return {sym: strategy for sym, _, _, strategy in self._position_rows()}

    def submit_order(self, request: OrderRequest) -> Order:
        existing = self.store.one(
            "SELECT order_id FROM paper_orders WHERE client_order_id = ?", (request.client_order_id,)
        )
        if existing:
            return self.order_status(existing[0])
        qty = int(request.qty)
        if qty <= 0 or Decimal(qty) != request.qty:
            raise BrokerError(f"paper order {request.client_order_id}: qty must be a whole number of shares > 0")
        if request.side not in {"buy", "sell"}:
            raise BrokerError(f"paper order {request.client_order_id}: side must be buy or sell")
        mark = self._marks.get(request.symbol)
        if mark is None:
            raise BrokerError(f"paper order {request.client_order_id}: no price yet for {request.symbol}")
        order_id = f"PO-{uuid.uuid4().hex[:16]}"
        limit_cents = None if request.limit_price is None else round_to_cents(request.limit_price)
        bar_utc = self._bar_utc.get(request.symbol, iso_z())
        status = "accepted" if limit_cents is not None else "new"
        with self.store.transaction() as conn:
            conn.execute(
                "INSERT INTO paper_orders (order_id, client_order_id, symbol, side, qty, limit_cents, status, "
                "submitted_utc, bar_utc, strategy) VALUES (?,?,?,?,?,?,?,?,?,?)",
                (
                    order_id,
                    request.client_order_id,
                    request.symbol,
                    request.side,
                    qty,
                    limit_cents,
                    status,
                    iso_z(),
                    bar_utc,
                    request.strategy,
                ),
            )
        if limit_cents is not None:
            self._open_limits[order_id] = (
                order_id,
                request.client_order_id,
                request.symbol,
                request.side,
                qty,
                limit_cents,
                request.strategy,
                bar_utc,
            )
            return self.order_status(order_id)
        slip = Decimal(mark) * self.settings.paper_slippage_bps / BPS
        price = mark + int(slip.to_integral_value(ROUND_HALF_EVEN)) * (1 if request.side == "buy" else -1)
        self._fill(order_id, request.symbol, request.side, qty, max(price, 1), request.strategy, bar_utc)
        return self.order_status(order_id)

    def cancel_order(self, order_id: str) -> None:
        with self.store.transaction() as conn:
            conn.execute(
                "UPDATE paper_orders SET status = 'canceled' WHERE order_id = ? AND status = 'accepted'", (order_id,)
            )
        self._open_limits.pop(order_id, None)

    def open_orders(self) -> list[Order]:
        return [self.order_status(order_id) for order_id in list(self._open_limits)]

    def order_status(self, order_id: str) -> Order:
        row = self.store.one(
            "SELECT order_id, client_order_id, symbol, side, qty, status, submitted_utc, strategy, "
            "filled_qty, filled_avg_cents FROM paper_orders WHERE order_id = ?",
            (order_id,),
        )
        if row is None:
            raise BrokerError(f"paper order {order_id}: not found")
        avg = None if row[9] is None else from_cents(row[9])
        return Order(
            row[0], row[1], row[2], row[3], Decimal(row[4]), row[5], parse_iso_z(row[6]), row[7], Decimal(row[8]), avg
        )

    def fills_since(self, since: datetime | None) -> list[Fill]:
        rows = self.store.query(
            "SELECT fitid, order_id, symbol, side, qty, price_cents, fee_cents, timestamp_utc, strategy "
            "FROM paper_fills WHERE timestamp_utc >= ? ORDER BY rowid",
            (iso_z(since) if since else "",),
        )
        return [fill_from_row(r) for r in rows]

    def heartbeat(self) -> None:
        self._cash_cents()

    # -- internals ------------------------------------------------------------------------------
    def _fill(
        self, order_id: str, symbol: str, side: str, qty: int, price_cents: int, strategy: str, bar_utc: str
    ) -> Fill:
        fee = max(self.settings.paper_commission_min, self.settings.paper_commission_per_share * qty).quantize(CENT)
        fee_cents = to_cents(fee)
        notional = qty * price_cents
        fitid = f"{order_id}-F1"
        refused = ""
        with self.store.transaction() as conn:
            account = conn.execute("SELECT cash_cents FROM paper_account WHERE id = 1").fetchone()
            assert account is not None  # the store creates the one account row with its schema
            cash = account[0]
            pos = conn.execute("SELECT qty, cost_cents FROM paper_positions WHERE symbol = ?", (symbol,)).fetchone()
            held, cost = (pos[0], pos[1]) if pos else (0, 0)
            if side == "buy" and cash < notional + fee_cents:
                refused = f"paper order {order_id}: insufficient cash for {qty} {symbol}"
            elif side == "sell" and held < qty:
                refused = f"paper order {order_id}: sell of {qty} {symbol} exceeds the position ({held})"
            if refused:
                conn.execute("UPDATE paper_orders SET status = 'rejected' WHERE order_id = ?", (order_id,))
            else:
                self._book(
                    conn,
                    order_id,
                    fitid,
                    symbol,
                    side,
                    qty,
                    price_cents,
                    fee_cents,
                    strategy,
                    bar_utc,
                    cash,
                    held,
                    cost,
                )
        if refused:
            raise BrokerError(refused)
        return Fill(
            fitid, order_id, symbol, side, Decimal(qty), from_cents(price_cents), fee, parse_iso_z(bar_utc), strategy
        )

    @staticmethod
    def _book(
        conn: apsw.Connection,
        order_id: str,
        fitid: str,
        symbol: str,
        side: str,
        qty: int,
        price_cents: int,
        fee_cents: int,
        strategy: str,
        bar_utc: str,
        cash: int,
        held: int,
        cost: int,
    ) -> None:
        notional = qty * price_cents
        if side == "buy":
            cash -= notional + fee_cents
            held, cost = held + qty, cost + notional
        else:
            cash += notional - fee_cents
            cost = cost - (cost * qty // held) if held != qty else 0
            held -= qty
        conn.execute("UPDATE paper_account SET cash_cents = ? WHERE id = 1", (cash,))
        conn.execute(
            "INSERT INTO marks (symbol, price_cents) VALUES (?, ?) "
            "ON CONFLICT(symbol) DO UPDATE SET price_cents = excluded.price_cents",
            (symbol, price_cents),
        )
        if held:
            conn.execute(
                "INSERT INTO paper_positions (symbol, qty, cost_cents, strategy) VALUES (?,?,?,?) "
                "ON CONFLICT(symbol) DO UPDATE SET qty = excluded.qty, cost_cents = excluded.cost_cents",
                (symbol, held, cost, strategy),
            )
        else:
            conn.execute("DELETE FROM paper_positions WHERE symbol = ?", (symbol,))
        conn.execute(
            "UPDATE paper_orders SET status = 'filled', filled_qty = ?, filled_avg_cents = ? WHERE order_id = ?",
            (qty, price_cents, order_id),
        )
        conn.execute(
            "INSERT INTO paper_fills (fitid, order_id, symbol, side, qty, price_cents, fee_cents, timestamp_utc, "
            "strategy) VALUES (?,?,?,?,?,?,?,?,?)",
            (fitid, order_id, symbol, side, qty, price_cents, fee_cents, bar_utc, strategy),
        )

    def opening_deposit(self) -> tuple[str, int, str]:
        """(fitid, cents, UTC time) of the cash the paper account was opened with: its first ledger entry."""
        row = self.store.one("SELECT opening_cash_cents, opened_utc FROM paper_account WHERE id = 1")
        if row is None:
            raise BrokerError("paper account missing from core.db")
        return f"PAPER-OPENING-{row[1]}", int(row[0]), str(row[1])

    def _cash_cents(self) -> int:
        row = self.store.one("SELECT cash_cents FROM paper_account WHERE id = 1")
        if row is None:
            raise BrokerError("paper account missing from core.db")
        return int(row[0])

    def _position_rows(self) -> list[tuple]:
        return self.store.query("SELECT symbol, qty, cost_cents, strategy FROM paper_positions ORDER BY symbol")


def fill_from_row(row: tuple) -> Fill:
    fitid, order_id, symbol, side, qty, price_cents, fee_cents, ts, strategy = row
    return Fill(
        fitid,
        order_id,
        symbol,
        side,
        Decimal(qty),
        from_cents(price_cents),
        from_cents(fee_cents),
        parse_iso_z(ts),
        strategy,
    )
