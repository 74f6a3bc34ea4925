"""A broker activity: the one record shape every source feeds the ledger.

The CLI file sync, the engine's fills and the broker pull all build these, so
the rules live in ``__post_init__``: an ``Activity`` that exists is valid, and
a bad one is refused with the field it broke.  ``amount`` is the signed gross
cash effect (buys negative, sells and income positive); ``fee`` is always a
non-negative charge on top of it.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tbot_core.ledger.money import canonical

TYPES = ("FILL", "FEE", "DIVIDEND", "INTEREST", "TRANSFER")
SIDES = ("buy", "sell")
FILL_TOLERANCE = Decimal("0.01")  # brokers round qty*price to the cent their own way


class ActivityError(ValueError):
    """A field of an activity is wrong; ``field`` names it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Activity:
    fitid: str
    type: str
    symbol: str
    side: str
    qty: Decimal
    price: Decimal
    amount: Decimal
    fee: Decimal
    timestamp_utc: datetime

    def __post_init__(self) -> None:
        if not isinstance(self.fitid, str) or not 1 <= len(self.fitid) <= 128 or not self.fitid.isprintable():
            raise ActivityError("fitid", "expected 1-128 printable characters")
        if self.type not in TYPES:
            raise ActivityError("type", f"expected one of {'|'.join(TYPES)}")
        if not isinstance(self.symbol, str) or len(self.symbol) > 32 or not self.symbol.isprintable():
            raise ActivityError("symbol", "expected at most 32 printable characters")
        for name in ("qty", "price", "amount", "fee"):
            value = getattr(self, name)
            if not isinstance(value, Decimal) or not value.is_finite():
                raise ActivityError(name, "expected a finite decimal number")
        if self.fee < 0:
            raise ActivityError("fee", "expected zero or more (a fee is a charge)")
        if not isinstance(self.timestamp_utc, datetime) or self.timestamp_utc.utcoffset() != timedelta(0):
            raise ActivityError("timestamp_utc", "expected a UTC time (with Z or +00:00)")
        if self.type == "FILL":
            self._check_fill()
        else:
            self._check_cash_activity()

    def _check_fill(self) -> None:
        if not self.symbol:
            raise ActivityError("symbol", "a FILL needs a symbol")
        if self.side not in SIDES:
            raise ActivityError("side", "a FILL needs side buy or sell")
        if self.qty <= 0:
            raise ActivityError("qty", "a FILL needs a quantity above zero")
        if self.price <= 0:
            raise ActivityError("price", "a FILL needs a price above zero")
        expected = self.qty * self.price * (-1 if self.side == "buy" else 1)
        if abs(self.amount - expected) > FILL_TOLERANCE:
            raise ActivityError("amount", "expected the signed gross value: -(qty*price) for a buy, +(qty*price) for a sell")

    def _check_cash_activity(self) -> None:
        if self.side != "":
            raise ActivityError("side", f"expected empty for {self.type}")
        if self.amount == 0:
            raise ActivityError("amount", f"a {self.type} needs a non-zero amount")
        if self.qty < 0 or self.price < 0:
            raise ActivityError("qty" if self.qty < 0 else "price", "expected zero or more")

    def time_text(self) -> str:
        """ISO 8601 with microseconds and ``Z``.

        The offset is known to be zero, so plain ``isoformat()`` ends in ``+00:00`` and omits a zero
        microsecond field; trimming that is a third cheaper than ``timespec=`` (and far cheaper than strftime).
        """
        text = self.timestamp_utc.isoformat()
        return (text[:-6] if len(text) == 32 else text[:-6] + ".000000") + "Z"

    def content_hash(self, time_text: str | None = None) -> str:
        """Same for the same activity however its numbers are spelled; changes if any field changes.

        ``time_text`` lets a caller that already formatted ``time_text()`` pass it in (it is the
        costliest field to format); it must be exactly that value.
        """
        text = "\x1f".join((self.type, self.symbol, self.side, canonical(self.qty), canonical(self.price),
                            canonical(self.amount), canonical(self.fee), time_text or self.time_text()))
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
