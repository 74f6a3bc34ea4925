"""What a strategy hands the gate: a ``Signal``, and the ``MarketContext`` filters read.

Prices that become orders are ``Decimal``; indicator values are floats (they
only feed comparisons).  A signal carries a snapshot of the indicators it was
computed from, so a backtest can gate it later with exactly that state.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal
from typing import Any, Literal

Side = Literal["buy", "sell"]
SIDES = ("buy", "sell")


@dataclass(frozen=True, slots=True)
class Signal:
    ts: datetime
    strategy: str
    symbol: str
    side: Side
    price: Decimal
    reason: str
    context: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IndicatorSnapshot:
    """Indicator values of one symbol at one bar (NaN while an indicator warms up)."""

    ts: datetime
    close: float
    bars: int
    adx: float = math.nan
    bb_upper: float = math.nan
    bb_middle: float = math.nan
    bb_lower: float = math.nan
    atr: float = math.nan
    vwap: float = math.nan
    bad_bars: int = 0

    def as_dict(self) -> dict[str, Any]:
        return {
            "ts": self.ts,
            "close": self.close,
            "bars": self.bars,
            "adx": self.adx,
            "bb_upper": self.bb_upper,
            "bb_middle": self.bb_middle,
            "bb_lower": self.bb_lower,
            "atr": self.atr,
            "vwap": self.vwap,
            "bad_bars": self.bad_bars,
        }


@dataclass(frozen=True, slots=True)
class Imbalance:
    """An auction imbalance report (IBKR): shares waiting on one side, and the paired volume."""

    ts: datetime
    side: Side
    shares: float
    paired: float


@dataclass(frozen=True, slots=True)
class OptionQuote:
    """An option's market price with what Black-Scholes-Merton needs to price it."""

    option_type: Literal["call", "put"]
    price: float
    spot: float
    strike: float
    years: float
    vol: float
    dividend_yield: float = 0.0


@dataclass(frozen=True)
class MarketContext:
    """What filters may read about the market when a signal is decided.

    The live engine gets it from the data layer (``tbot_core.data.market.MarketData``), for every broker.
    ``failed`` names each data source that failed while it was assembled (``"vix"``, ``"fundamentals"``,
    ``"imbalance"``) with a one-line reason: a filter that needs that source answers "data source
    failed", and the gate's ``*_FATAL`` setting for the module decides, instead of the filter judging a gap.
    """

    indicators: Mapping[str, IndicatorSnapshot] = field(default_factory=dict)
    vix: float | None = None
    imbalance: Mapping[str, Imbalance] = field(default_factory=dict)
    option_quotes: Mapping[str, OptionQuote] = field(default_factory=dict)
    fundamentals: Mapping[str, Any] = field(default_factory=dict)
    failed: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_signal(
        cls, signal: Signal, *, vix: float | None = None, imbalance: Imbalance | None = None
    ) -> MarketContext:
        """The context a strategy recorded in the signal (backtests gate signals this way)."""
        snap = signal.context.get("indicators")
        quote = signal.context.get("option_quote")
        vix = vix if vix is not None else signal.context.get("vix")
        return cls(
            indicators={signal.symbol: snap} if isinstance(snap, IndicatorSnapshot) else {},
            vix=vix,
            imbalance={signal.symbol: imbalance} if imbalance else {},
            option_quotes={signal.symbol: quote} if isinstance(quote, OptionQuote) else {},
        )
