"""The console's clock, injected so snapshots can freeze time."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from tbot_core.timeutil import parse_iso_z, utc_now

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return utc_now()


def frozen_clock(text: str) -> Clock:
    """A clock stopped at an ISO 8601 UTC time (for tests and snapshots)."""
    moment = parse_iso_z(text)
    return lambda: moment
