"""The engine's view of the account between broker calls: cash, positions, marks.

Refreshed from the broker after every fill and when the engine connects (not
when it is built: a broker that is down at start must suspend the core, not
crash its construction); marked to the latest bar in between, so PnL costs no
broker call per bar.  Equity is integer cents;
``None`` with a reason when a held symbol has no price (the kill switch then
fails closed).  Only the engine thread touches it; other threads see its
figures through the engine's published view (``engine_view.py``).
"""

from __future__ import annotations

from decimal import Decimal

from tbot_core.brokers.base import Broker
from tbot_core.money import from_cents, round_to_cents
from tbot_core.safety.risk_bot import Holding


class Portfolio:
    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.marks: dict[str, int] = dict(broker.marks())
        self.cash_cents = 0
        self.positions: dict[str, tuple[int, int, str]] = {}  # symbol -> (qty, avg_cents, strategy)
        self.refreshed = False  # no account read yet: nothing to show or judge

    def refresh(self) -> None:
        account = self.broker.account()
        strategies = self.broker.position_strategies()
        self.cash_cents = round_to_cents(account.cash)
        self.positions = {}
        for pos in self.broker.positions():
            self.positions[pos.symbol] = (int(pos.qty), round_to_cents(pos.avg_price), strategies.get(pos.symbol, ""))
            if pos.symbol not in self.marks and pos.market_price is not None:
                self.marks[pos.symbol] = round_to_cents(pos.market_price)
        self.refreshed = True

    def equity_cents(self) -> tuple[int | None, str]:
        if not self.positions:  # flat: the common case on most bars, and this runs on every one
            return self.cash_cents, ""
        total = self.cash_cents
        for symbol, (qty, _avg, _strategy) in self.positions.items():
            mark = self.marks.get(symbol)
            if mark is None:
                return None, f"no price for held {symbol}"
            total += qty * mark
        return total, ""

    def equity(self) -> Decimal:
        cents, _ = self.equity_cents()
        return Decimal(0) if cents is None else from_cents(cents)

    def holdings(self) -> dict[str, Holding]:
        return {
            sym: Holding(qty, from_cents(qty * self.marks.get(sym, avg)), strategy)
            for sym, (qty, avg, strategy) in self.positions.items()
        }
