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
from decimal import ROUND_HALF_EVEN, Decimal, getcontext

from tbot_core.brokers.base import Fill
from tbot_core.config import Settings
from tbot_core.money import CENT, round_to_cents, to_cents

BPS = Decimal(10000)


class PaperAccount:
    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.cash: int = round_to_cents(settings.paper_starting_cash)
        self.positions: dict[str, tuple[int, str]] = {}  # symbol -> (shares, the strategy that opened it)
        self.fills: list[Fill] = []
        self.orders = 0
        self._fees: dict[int, tuple[Decimal, int]] = {}  # shares -> (fee, in cents): a few sizes recur
        bps = settings.paper_slippage_bps
        # The slippage as the exact fraction bps_num / bps_den of the mark.  A mark below ``_exact_below`` has
        # few enough digits that ``Decimal(mark) * bps / BPS`` is exact in the Decimal context; the integer
        # rounding of the same fraction then gives the same cents (others take the Decimal path).
        finite = bps.is_finite()
        num, den = bps.as_integer_ratio() if finite else (0, 1)
        self._bps_num: int = num
        self._bps_den: int = den * 10000
        digits = getcontext().prec - len(bps.as_tuple().digits) - 1
        self._exact_below: int = 10**digits if finite and digits > 0 else 0

    def fill_price(self, mark: int, side: str) -> int:
        if 0 <= mark < self._exact_below:
            whole, rest = divmod(mark * self._bps_num, self._bps_den)
            twice = 2 * rest
            if twice > self._bps_den or (twice == self._bps_den and whole % 2):
                whole += 1  # half even
            slipped = whole
        else:
            slip = Decimal(mark) * self.settings.paper_slippage_bps / BPS
            slipped = int(slip.to_integral_value(ROUND_HALF_EVEN))
        price = mark + slipped * (1 if side == "buy" else -1)
        return max(price, 1)

    def fee(self, qty: int) -> Decimal:
        s = self.settings
        return max(s.paper_commission_min, s.paper_commission_per_share * qty).quantize(CENT)

    def _fee_cents(self, qty: int) -> tuple[Decimal, int]:
        found = self._fees.get(qty)
        if found is None:
            fee = self.fee(qty)
            found = self._fees[qty] = (fee, to_cents(fee))
        return found

    def market_order(self, symbol: str, side: str, qty: int, mark: int, strategy: str, at: datetime) -> Fill | None:
        """Fill a market order (None: a buy the cash cannot pay for, which the paper broker rejects)."""
        self.orders += 1
        order_id = f"FAST-{self.orders:08d}"
        price = self.fill_price(mark, side)
        fee, fee_cents = self._fee_cents(qty)
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
        fill = Fill(
            f"{order_id}-F1", order_id, symbol, side, Decimal(qty), Decimal(price).scaleb(-2), fee, at, strategy
        )
        self.fills.append(fill)
        return fill
