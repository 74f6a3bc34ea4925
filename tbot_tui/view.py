"""Turning the typed ``state.json`` (``CoreState``) into display text.

Every section except the four required keys may be absent (docs/state.md), and
a value may be null, so each helper returns a dash for ``None`` instead of
raising. Money arrives as ``Decimal`` and stays one here; only plotting
converts to float, because a sparkline's bar height is not money.
"""

from __future__ import annotations

from decimal import Decimal, InvalidOperation
from typing import Any

from tbot_core.state_schema import Pnl

DASH = "—"


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


def held_for(value: Any) -> str:
    """A holding time as a trader reads it: ``45m``, ``2h05m``, ``3d02h``."""
    amount = decimal(value)
    if amount is None or amount < 0:
        return DASH
    minutes = int(amount) // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def used_fraction(pnl: Pnl | None) -> Decimal | None:
    """How much of the daily loss limit is consumed, 0..1+ (None when unknown)."""
    if pnl is None:
        return None
    if pnl.used_fraction is not None:
        return max(pnl.used_fraction, Decimal(0))
    if pnl.daily is None or not pnl.limit:
        return None
    return max(-pnl.daily / abs(pnl.limit), Decimal(0))


def pnl_series(pnl: Pnl | None) -> list[float]:
    return [float(point.pnl) for point in pnl.history] if pnl is not None else []
