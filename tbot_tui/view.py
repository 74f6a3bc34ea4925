"""Turning the loosely-typed ``state.json`` into display text.

Every key except the four required ones may be absent (docs/state.md), so each
helper returns a dash instead of raising. Money arrives as decimal strings and
stays ``Decimal`` here; only plotting converts to float, because a sparkline's
bar height is not money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

DASH = "—"


def section(state: dict[str, Any] | None, key: str) -> dict[str, Any]:
    value = (state or {}).get(key)
    return value if isinstance(value, dict) else {}


def rows(state: dict[str, Any] | None, key: str) -> list[dict[str, Any]]:
    value = (state or {}).get(key)
    return [r for r in value if isinstance(r, dict)] if isinstance(value, list) else []


def decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        return Decimal(str(value))
    except (InvalidOperation, ValueError):
        return None


def money(value: Any) -> str:
    amount = decimal(value)
    return DASH if amount is None else f"{amount:,.2f}"


def text(value: Any) -> str:
    if value is None or value == "":
        return DASH
    if isinstance(value, bool):
        return "yes" if value else "no"
    return str(value)


def hhmmss(value: Any) -> str:
    """The time of day of an ISO UTC stamp (``15:29:58``); the date is in the header."""
    raw = str(value or "")
    return raw[11:19] if len(raw) >= 19 and raw[10] == "T" else DASH


def seconds(value: Any) -> str:
    amount = decimal(value)
    return DASH if amount is None else f"{amount:.1f}s"


def used_fraction(pnl: dict[str, Any]) -> Decimal | None:
    """How much of the daily loss limit is consumed, 0..1+ (None when unknown)."""
    frac = decimal(pnl.get("used_fraction"))
    if frac is not None:
        return max(frac, Decimal(0))
    daily, limit = decimal(pnl.get("daily")), decimal(pnl.get("limit"))
    if daily is None or not limit:
        return None
    return max(-daily / abs(limit), Decimal(0))


def pnl_series(pnl: dict[str, Any]) -> list[float]:
    history = pnl.get("history") if isinstance(pnl.get("history"), list) else []
    out = [decimal(point.get("pnl")) for point in history if isinstance(point, dict)]
    return [float(v) for v in out if v is not None]
