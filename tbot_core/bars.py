"""One OHLCV bar: the domain type feeds produce and strategies, venues and the engine consume.

It lives below both the data feeds and the brokers (the paper venue fills
against bars), so neither package has to import the other for it.  Prices on a
``Bar`` are floats: they feed indicators, not money.  Anything that becomes
money (an order price, a fill, PnL) is converted with ``Decimal(str(x))`` and
quantized at that boundary.

A ``NamedTuple`` rather than a frozen dataclass: it is just as immutable (a
bar is read by the strategies, the venue and the engine, never changed), and
the feed builds one per tick, where a frozen dataclass's ``__init__`` (one
``object.__setattr__`` per field) cost five times as much.
"""

from __future__ import annotations

from datetime import datetime
from typing import NamedTuple


class Bar(NamedTuple):
    ts: datetime  # UTC, bar open time
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float
