"""The risk bot: sizes an entry and refuses anything outside the configured limits.

Checks, in order: the symbol is in ``SYMBOLS``, side and price are valid, the
strategy has an allocation, then per-trade notional (``MAX_RISK_PER_TRADE`` of
equity), max open positions, max gross exposure and the strategy's allocation.
Exits (sells of a held position) are never blocked by limits: reducing risk is
always allowed.  Long only: a sell with nothing held is refused.  Defense mode
multiplies every limit by ``DEFENSE_MODE_FACTOR``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from decimal import ROUND_FLOOR, Decimal

from tbot_core.config import Settings
from tbot_core.selfcheck import CheckResult

STRATEGY_ALLOC = {"open": "alloc_open", "mid": "alloc_mid", "close": "alloc_close"}


@dataclass(frozen=True)
class Holding:
    qty: int
    market_value: Decimal
    strategy: str


@dataclass(frozen=True)
class RiskDecision:
    allow: bool
    reason: str
    qty: int = 0


@dataclass(frozen=True)
class RiskLimits:
    per_trade: Decimal
    max_positions: int
    gross: Decimal
    alloc: dict[str, Decimal]


class RiskBot:
    name = "risk_bot"

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.symbols = frozenset(settings.symbols)

    def limits(self, defense: bool) -> RiskLimits:
        s = self.settings
        f = s.defense_mode_factor if defense else Decimal(1)
        return RiskLimits(
            per_trade=s.max_risk_per_trade * f,
            max_positions=int(s.max_open_positions * f),
            gross=s.max_gross_exposure * f,
            alloc={name: getattr(s, attr) * f for name, attr in STRATEGY_ALLOC.items()},
        )

    def check(
        self,
        *,
        strategy: str,
        symbol: str,
        side: str,
        price: Decimal,
        equity: Decimal,
        holdings: dict[str, Holding],
        defense: bool,
    ) -> RiskDecision:
        if symbol not in self.symbols:
            return RiskDecision(False, f"symbol {symbol!r} is not in SYMBOLS")
        if side not in {"buy", "sell"}:
            return RiskDecision(False, f"side {side!r}: expected buy or sell")
        if not isinstance(price, Decimal) or not price.is_finite() or price <= 0:
            return RiskDecision(False, f"price {price!r}: expected a positive finite decimal")
        if equity <= 0:
            return RiskDecision(False, f"equity {equity} is not positive")
        held = holdings.get(symbol)
        if side == "sell":
            if held is None or held.qty <= 0:
                return RiskDecision(False, f"sell {symbol}: no position held (long only)")
            return RiskDecision(True, f"exit {held.qty} {symbol}", held.qty)
        if held is not None:
            return RiskDecision(False, f"buy {symbol}: a position is already open")
        limits = self.limits(defense)
        if strategy not in limits.alloc:
            return RiskDecision(False, f"strategy {strategy!r} has no allocation (ALLOC_OPEN/MID/CLOSE)")
        if len(holdings) >= limits.max_positions:
            return RiskDecision(False, f"{len(holdings)} open positions; max {limits.max_positions}")
        cap = equity * limits.per_trade
        qty = int((cap / price).to_integral_value(ROUND_FLOOR))
        if qty < 1:
            return RiskDecision(False, f"per-trade cap {cap.quantize(Decimal('0.01'))} buys no share at {price}")
        notional = price * qty
        gross = sum((h.market_value for h in holdings.values()), Decimal(0))
        if gross + notional > equity * limits.gross:
            return RiskDecision(
                False, f"gross exposure {gross + notional:.2f} would exceed {equity * limits.gross:.2f}"
            )
        used = sum((h.market_value for h in holdings.values() if h.strategy == strategy), Decimal(0))
        budget = equity * limits.alloc[strategy]
        if used + notional > budget:
            return RiskDecision(
                False, f"strategy {strategy} allocation {budget:.2f} would be exceeded ({used + notional:.2f})"
            )
        return RiskDecision(True, f"buy {qty} {symbol} (notional {notional:.2f} <= cap {cap:.2f})", qty)

    def self_check(self) -> CheckResult:
        limits = self.limits(False)
        if not self.symbols:
            return CheckResult.failed(self.name, "SYMBOLS is empty: nothing may be traded", "set SYMBOLS=AAPL,MSFT,...")
        if any(not math.isfinite(float(v)) for v in (limits.per_trade, limits.gross)):
            return CheckResult.failed(self.name, "risk limits are not finite")
        return CheckResult.passed(
            self.name,
            f"per-trade {limits.per_trade}, max positions {limits.max_positions}, "
            f"gross {limits.gross}, defense factor {self.settings.defense_mode_factor}",
        )
