"""Exact money: ``Decimal`` in Python, integer ``Cents`` in SQLite and in the engine, never float.

One contract, chosen because a silent rounding inside a conversion is how a
ledger drifts from the broker by a cent nobody can explain:

- ``to_cents`` is exact.  It accepts only a finite ``Decimal`` that is a whole
  number of cents and raises ``ValueError`` otherwise (a float, an int, NaN, a
  sub-cent amount, an amount too large for a 64-bit SQLite integer).  The old
  ``core_store.to_cents`` rounded anything it was given and the old
  ``ledger.money.to_cents`` refused non-finite values but rounded sub-cents;
  this is the stricter of the two, made stricter still.
- Where sub-cent amounts legitimately arrive (a broker's fee of 0.0035 per
  share, an average price of cost/qty, a limit price a strategy computed, an
  operator's loss limit), the caller says so at that boundary with
  ``round_to_cents`` and names the rounding (half-even, as both old versions
  did, unless the caller needs another: the kill switch truncates so its limit
  never grows).
- ``quote_cents`` is the one door for a float: bar prices arrive as binary
  floats (the indicators need numpy arrays); it rounds the scaled float
  half-even, exactly what the engine has always marked positions with, and the
  paper broker's limit fills use the same cents so a fill and a mark agree.
"""

from __future__ import annotations

from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import NewType

Cents = NewType("Cents", int)
# A decimal amount of the account currency, as ``state.json`` carries it (``from_cents`` makes one).
Money = NewType("Money", Decimal)

CENT = Decimal("0.01")
_ONE = Decimal(1)
_HUNDRED = Decimal(100)
# Far inside SQLite's signed 64-bit integers (and the 28-digit Decimal context, so
# ``amount * 100`` and quantize below stay exact); no account holds 10**16 dollars.
MAX_CENTS = 10**18
_PLAIN_DIGITS = 28  # str() of a Decimal this short has at most the context's digits, so normalize() cannot round


def _finite(amount: object) -> Decimal:
    if type(amount) is not Decimal or not amount.is_finite():
        raise ValueError(f"expected a finite Decimal amount, got {type(amount).__name__}")
    return amount


def _in_range(cents: int) -> Cents:
    if not -MAX_CENTS < cents < MAX_CENTS:
        raise ValueError("amount out of range: expected at most 16 digits before the point")
    return Cents(cents)


def to_cents(amount: Decimal) -> Cents:
    """Whole cents of ``amount``, exactly; a sub-cent amount is an error, not a rounding."""
    numerator, denominator = _finite(amount).as_integer_ratio()
    # ``as_integer_ratio`` is in lowest terms: amount * 100 is whole exactly when denominator divides 100.
    if 100 % denominator:
        raise ValueError("expected whole cents (at most two decimal places)")
    return _in_range(numerator * (100 // denominator))


def round_to_cents(amount: Decimal, rounding: str = ROUND_HALF_EVEN) -> Cents:
    """Cents of ``amount`` rounded as named: only at a boundary where sub-cent amounts are expected.

    Whole-cent amounts (the usual case) take the exact path of ``to_cents``;
    the rest go through quantize (tests compare the two on random values).
    """
    numerator, denominator = _finite(amount).as_integer_ratio()
    if 100 % denominator == 0:
        return _in_range(numerator * (100 // denominator))
    try:
        cents = int((amount * _HUNDRED).quantize(_ONE, rounding=rounding))
    except InvalidOperation:
        raise ValueError("amount out of range: expected at most 16 digits before the point") from None
    return _in_range(cents)


def quote_cents(price: float) -> Cents:
    """Cents of a bar price (a float from the feed), half-even on the scaled float.

    Runs once per bar, so it is written for speed: ``round`` itself refuses NaN
    and infinities, and the int it returns is already a ``Cents`` at run time.
    """
    try:
        cents = round(price * 100)
    except (ValueError, OverflowError):
        raise ValueError("expected a finite price") from None
    if -MAX_CENTS < cents < MAX_CENTS:
        return cents  # type: ignore[return-value]  # a range-checked int is a Cents; no NewType call per bar
    raise ValueError("price out of range")


def from_cents(cents: int) -> Money:
    return Money((Decimal(cents) / _HUNDRED).quantize(CENT))


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
