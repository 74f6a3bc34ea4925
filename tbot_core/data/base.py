"""The market-data interface: bars in, one at a time, with a heartbeat.

Prices on a ``Bar`` are floats: they feed indicators, not money.  Anything that
becomes money (an order price, a fill, PnL) is converted with
``Decimal(str(x))`` and quantized at that boundary.
"""

from __future__ import annotations

import abc
from dataclasses import dataclass
from datetime import datetime
from typing import Iterator


@dataclass(frozen=True, slots=True)
class Bar:
    ts: datetime  # UTC, bar open time
    symbol: str
    open: float
    high: float
    low: float
    close: float
    volume: float


class Feed(abc.ABC):
    @abc.abstractmethod
    def bars(self) -> Iterator[Bar]:
        """Bars in time order; may block waiting for the next one; ends when the feed ends."""

    @abc.abstractmethod
    def vix(self, ts: datetime) -> float | None:
        """The latest VIX level at or before ``ts`` (None if unknown)."""

    def heartbeat(self) -> None:
        """Raise if the feed is not delivering."""

    def close(self) -> None:
        """Make a blocked ``bars()`` return soon; the engine's stop calls it. Nothing to do by default."""
