"""A broker activity: the one record shape every source feeds the ledger.

The CLI file sync, the engine's fills and the broker pull all build these, so
the rules live in ``__post_init__``: an ``Activity`` that exists is valid, and
a bad one is refused with the field it broke.  ``amount`` is the signed gross
cash effect (buys negative, sells and income positive); ``fee`` is always a
non-negative charge on top of it.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import Decimal

from tbot_core.errors import TbotError
from tbot_core.money import canonical

TYPES = ("FILL", "FEE", "DIVIDEND", "INTEREST", "TRANSFER")
SIDES = ("buy", "sell")
FILL_TOLERANCE = Decimal("0.01")  # brokers round qty*price to the cent their own way
_BROKER_RE = re.compile(r"[A-Za-z0-9_]{1,16}")  # ASCII only: str.upper() would turn a dotless "ı" into "I"


def normalize_broker_code(code: object, field: str = "broker code") -> str:
    """The one spelling of a broker code the ledger stores.

    ``UNIQUE(broker_code, fitid)`` only catches a duplicate if ``alpaca`` and
    ``ALPACA`` are the same text, so every entry point (sync, postings, CLI
    options) passes its code through here before it reaches a row.
    """
    text = code.strip() if isinstance(code, str) else ""
    if not _BROKER_RE.fullmatch(text):
        shown = repr(code)[:40] if isinstance(code, str) else type(code).__name__
        raise TbotError(f"{field} {shown}: expected 1-16 ASCII letters, digits or _ (e.g. ALPACA, IBKR, PAPER)")
    return text.upper()


def fitid_problem(fitid: object) -> str | None:
    """Why ``fitid`` cannot be a broker's activity id, or None.

    A fitid is matched byte for byte against what the ledger holds, so a
    padded or control-character copy of a real id would book the activity a
    second time instead of being recognised; such ids are refused, not cleaned.
    """
    if not isinstance(fitid, str) or not 1 <= len(fitid) <= 128:
        return "expected 1-128 printable characters"
    if fitid.isprintable() and fitid[0] != " " and fitid[-1] != " ":
        return None
    bad = next((ch for ch in fitid if unicodedata.category(ch) == "Cc"), None)
    if bad is not None:
        return f"contains control character U+{ord(bad):04X}; expected the broker's id as printable text"
    if fitid != fitid.strip():
        return "has leading or trailing whitespace; expected the broker's id exactly, without padding"
    bad = next(ch for ch in fitid if not ch.isprintable() and ch != " ")
    return f"contains non-printable character U+{ord(bad):04X}; expected the broker's id as printable text"


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
        fitid = self.fitid  # the common valid id passes this one line; anything else is named by fitid_problem
        if not (
            type(fitid) is str
            and 0 < len(fitid) <= 128
            and fitid.isprintable()
            and fitid[0] != " "
            and fitid[-1] != " "
        ):
            raise ActivityError("fitid", fitid_problem(fitid) or "expected 1-128 printable characters")
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
            raise ActivityError(
                "amount", "expected the signed gross value: -(qty*price) for a buy, +(qty*price) for a sell"
            )

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
        text = "\x1f".join(
            (
                self.type,
                self.symbol,
                self.side,
                canonical(self.qty),
                canonical(self.price),
                canonical(self.amount),
                canonical(self.fee),
                time_text or self.time_text(),
            )
        )
        return hashlib.sha256(text.encode("utf-8")).hexdigest()[:32]
