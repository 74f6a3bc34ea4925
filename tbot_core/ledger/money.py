"""Exact money: ``Decimal`` in Python, integer cents in SQLite, never float."""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation

_CENT = Decimal(1)
_HUNDRED = Decimal(100)
_EXACT_CENTS = 10**18  # far inside the 28-digit context: below it ``amount * 100`` and quantize are exact
_PLAIN_DIGITS = 28  # str() of a Decimal this short has at most the context's digits, so normalize() cannot round


def to_cents(amount: Decimal) -> int:
    """Round half-even to whole cents (brokers quote sub-cent fees and fractional fills).

    Whole-cent amounts (the usual case) take an integer fast path: ``n/d`` with
    ``d`` dividing 100 is exactly ``n * (100 // d)`` cents, the very value the
    quantize below returns for them; everything else goes through quantize.
    """
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise ValueError(f"expected a finite Decimal, got {type(amount).__name__}")
    numerator, denominator = amount.as_integer_ratio()
    if 100 % denominator == 0:
        cents = numerator * (100 // denominator)
        if -_EXACT_CENTS < cents < _EXACT_CENTS:
            return cents
    return int((amount * _HUNDRED).quantize(_CENT, rounding=ROUND_HALF_EVEN))


def from_cents(cents: int) -> Decimal:
    return (Decimal(cents) / _HUNDRED).quantize(Decimal("0.01"))


def fmt_cents(cents: int) -> str:
    return f"{from_cents(cents):.2f}"


def canonical(value: Decimal) -> str:
    """One spelling per number (``1.50`` and ``1.5`` are the same content).

    Content hashes stored in the ledger depend on this text, so it must never
    change.  Fast path: a short ``str()`` without exponent is already plain
    notation, and dropping trailing fractional zeros is exactly what
    ``normalize()`` + ``format(.., "f")`` produce; anything else takes that slow
    path (tests compare the two on random values).
    """
    text = str(value)
    if len(text) <= _PLAIN_DIGITS and "E" not in text and "e" not in text:
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return "0" if text == "-0" else text  # every spelling of zero ("0.00", "-0.0") ends as "0" or "-0"
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
