"""Value parsers for ``.env_bot`` keys.

Each parser turns the raw text into a typed value or raises ``ValueError``
with what was expected; the config loader adds the key name and the value's
shape (never the value itself, which might be a secret).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import time
from decimal import Decimal, InvalidOperation

Parser = Callable[[str], object]

_TRUE = {"true", "1", "yes", "on"}
_FALSE = {"false", "0", "no", "off"}


def boolean(raw: str) -> bool:
    low = raw.strip().lower()
    if low in _TRUE:
        return True
    if low in _FALSE:
        return False
    raise ValueError("expected true or false")


def always_true(why: str) -> Parser:
    """A boolean that may only be true: documents a fixed rule (a ``*_FATAL`` the seed does not let go) in the config."""

    def parse(raw: str) -> bool:
        if not boolean(raw):
            raise ValueError(f"expected true ({why})")
        return True

    return parse


def integer(lo: int | None = None, hi: int | None = None) -> Parser:
    def parse(raw: str) -> int:
        text = raw.strip().replace("_", "")
        try:
            value = int(text)
        except ValueError:
            raise ValueError(f"expected a whole number{_range(lo, hi)}") from None
        _check_range(value, lo, hi)
        return value

    return parse


def decimal(lo: Decimal | int | str | None = None, hi: Decimal | int | str | None = None) -> Parser:
    low = None if lo is None else Decimal(lo)
    high = None if hi is None else Decimal(hi)

    def parse(raw: str) -> Decimal:
        value = _to_decimal(raw)
        _check_range(value, low, high)
        return value

    return parse


def choice(*options: str) -> Parser:
    canon = {opt.lower(): opt for opt in options}

    def parse(raw: str) -> str:
        key = raw.strip().lower()
        if key not in canon:
            raise ValueError(f"expected one of {'|'.join(options)}")
        return canon[key]

    return parse


def text(max_len: int = 256) -> Parser:
    def parse(raw: str) -> str:
        if len(raw) > max_len:
            raise ValueError(f"expected at most {max_len} characters")
        return raw

    return parse


def clock_time(raw: str) -> time:
    try:
        hours, minutes = raw.strip().split(":")
        return time(int(hours), int(minutes))
    except ValueError:
        raise ValueError("expected a UTC time HH:MM") from None


@dataclass(frozen=True)
class LossLimit:
    """``DAILY_LOSS_LIMIT``: an amount in account currency, or a percent of start-of-day equity."""

    value: Decimal
    is_percent: bool

    def amount(self, start_of_day_equity: Decimal) -> Decimal:
        """The limit in money: a percent of the day's start is its exact share (sub-cent digits kept), so the
        kill switch, which truncates to cents, never gets a limit rounded up into a looser one."""
        if self.is_percent:
            return start_of_day_equity * self.value / Decimal(100)
        return self.value

    def __str__(self) -> str:
        return f"{self.value}%" if self.is_percent else str(self.value)


def loss_limit(raw: str) -> LossLimit:
    text_ = raw.strip()
    is_percent = text_.endswith("%")
    number = text_[:-1] if is_percent else text_
    try:
        value = _to_decimal(number)
    except ValueError:
        raise ValueError("expected an amount like 2500.00 or a percent like 3%") from None
    if value <= 0 or (is_percent and value > 100):
        raise ValueError("expected a positive amount, or a percent in (0, 100]")
    return LossLimit(value, is_percent)


def rate_table(raw: str) -> dict[str, Decimal]:
    """``US:0.045,CA:0.0275``: a risk-free rate per jurisdiction code."""
    table: dict[str, Decimal] = {}
    for part in filter(None, (p.strip() for p in raw.split(","))):
        code, sep, rate = part.partition(":")
        if not sep or not code.strip().isalpha():
            raise ValueError("expected CODE:RATE pairs separated by commas, like US:0.045")
        value = _to_decimal(rate)
        _check_range(value, Decimal("-0.05"), Decimal("1"))
        table[code.strip().upper()] = value
    if not table:
        raise ValueError("expected at least one CODE:RATE pair")
    return table


def symbol_list(raw: str) -> tuple[str, ...]:
    symbols = tuple(s.strip().upper() for s in raw.split(",") if s.strip())
    for sym in symbols:
        if not sym.replace(".", "").isalnum() or len(sym) > 12:
            raise ValueError("expected ticker symbols separated by commas, like AAPL,MSFT")
    return symbols


def _to_decimal(raw: str) -> Decimal:
    text_ = raw.strip().replace("_", "")
    try:
        value = Decimal(text_)
    except InvalidOperation:
        raise ValueError("expected a decimal number") from None
    if not value.is_finite():
        raise ValueError("expected a finite decimal number")
    return value


def _range(lo: object, hi: object) -> str:
    if lo is not None and hi is not None:
        return f" in [{lo}, {hi}]"
    if lo is not None:
        return f" >= {lo}"
    if hi is not None:
        return f" <= {hi}"
    return ""


def _check_range(value: Decimal | int, lo: Decimal | int | None, hi: Decimal | int | None) -> None:
    if (lo is not None and value < lo) or (hi is not None and value > hi):
        raise ValueError(f"expected a number{_range(lo, hi)}")


def render(value: object) -> str:
    """The ``.env_bot`` text for a typed value (inverse of the parsers)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, time):
        return value.strftime("%H:%M")
    if isinstance(value, dict):
        return ",".join(f"{k}:{v}" for k, v in value.items())
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)
