"""One OHLCV bar: the domain type feeds produce and strategies, venues and the engine consume.

It lives below both the data feeds and the brokers (the paper venue fills
against bars), so neither package has to import the other for it.  Prices on a
``Bar`` are floats: they feed indicators, not money.  Anything that becomes
money (an order price, a fill, PnL) is converted with ``Decimal(str(x))`` and
quantized at that boundary.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class Bar:
    ts: datetime  # UTC, bar open time
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
