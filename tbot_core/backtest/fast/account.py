"""The paper broker's account and fill rule, without its database.

``brokers/paper.py`` fills a market order at the symbol's mark (the bar's
close in cents) moved ``PAPER_SLIPPAGE_BPS`` against the trader (half-even
cents, at least one cent), charges ``PAPER_COMMISSION_PER_SHARE`` times the
shares (at least ``PAPER_COMMISSION_MIN``) and refuses a buy the cash cannot
pay for.  The bar engine books that in ``core.db``; here it is integer cents
in memory, with the same arithmetic, and each fill is the broker's ``Fill``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import ROUND_HALF_EVEN, Decimal

from tbot_core.brokers.base import Fill
from tbot_core.config import Settings
from tbot_core.money import CENT, from_cents, round_to_cents, to_cents

BPS = Decimal(10000)


class PaperAccount:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cash: int = round_to_cents(settings.paper_starting_cash)
        self.positions: dict[str, tuple[int, str]] = {}  # symbol -> (shares, the strategy that opened it)
        self.fills: list[Fill] = []
        self.orders = 0

    def fill_price(self, mark: int, side: str) -> int:
        slip = Decimal(mark) * self.settings.paper_slippage_bps / BPS
        price = mark + int(slip.to_integral_value(ROUND_HALF_EVEN)) * (1 if side == "buy" else -1)
        return max(price, 1)

    def fee(self, qty: int) -> Decimal:
        s = self.settings
        return max(s.paper_commission_min, s.paper_commission_per_share * qty).quantize(CENT)

    def market_order(self, symbol: str, side: str, qty: int, mark: int, strategy: str, at: datetime) -> Fill | None:
        """Fill a market order (None: a buy the cash cannot pay for, which the paper broker rejects)."""
        self.orders += 1
        order_id = f"FAST-{self.orders:08d}"
        price = self.fill_price(mark, side)
        fee = self.fee(qty)
        fee_cents = to_cents(fee)
        notional = qty * price
        held = self.positions.get(symbol, (0, strategy))[0]
        if side == "buy":
            if self.cash < notional + fee_cents:
                return None
            self.cash -= notional + fee_cents
            self.positions[symbol] = (held + qty, strategy)
        else:
            if held < qty:  # the risk bot sells what is held: never reached
                return None
            self.cash += notional - fee_cents
            if held == qty:
                del self.positions[symbol]
            else:
                self.positions[symbol] = (held - qty, self.positions[symbol][1])
        fill = Fill(f"{order_id}-F1", order_id, symbol, side, Decimal(qty), from_cents(price), fee, at, strategy)
        self.fills.append(fill)
        return fill
