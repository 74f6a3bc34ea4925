"""Exact money: ``Decimal`` in Python, integer cents in SQLite, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_CENT = Decimal(1)
_HUNDRED = Decimal(100)


def to_cents(amount: Decimal) -> int:
    """Round half-even to whole cents (brokers quote sub-cent fees and fractional fills)."""
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"expected a finite Decimal, got {type(amount).__name__}")
    return int((amount * _HUNDRED).quantize(_CENT, rounding=ROUND_HALF_EVEN))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / _HUNDRED).quantize(Decimal("0.01"))


def fmt_cents(cents: int) -> str:
    return f"{from_cents(cents):.2f}"


def canonical(value: Decimal) -> str:
    """One spelling per number (``1.50`` and ``1.5`` are the same content)."""
    if value == 0:
        return "0"
    return format(value.normalize(), "f")


def parse_decimal(text: str) -> Decimal:
    """Strict decimal text: no float spellings such as ``nan``, ``inf`` or ``1e400``."""
    try:
        value = Decimal(text.strip())
    except (InvalidOperation, AttributeError):
        raise ValueError("expected a decimal number such as 12.34") from None
    if not value.is_finite():
        raise ValueError("expected a finite decimal number")
    if abs(value.adjusted()) > 15:
        raise ValueError("expected a decimal number of at most 15 digits before the point")
    return value
