"""Enhancement modules that fail on purpose, passed into ``Gate(..., replace={name: Fake})``.

Each one is the real module with one part broken, so the gate meets a real
failure (an I/O error saving the session file, a tracker that raises, a switch
that cannot be read) instead of a flag.  Nothing here is reachable from a
production home.
"""

from __future__ import annotations

import errno
from typing import Any

from tbot_core.enhancements.adx_filter import AdxFilter
from tbot_core.enhancements.ticker_blocklist import TickerBlocklist
from tbot_core.enhancements.tuning_tracker import TuningTracker


class UnsavableBlocklist(TickerBlocklist):
    """The real blocklist on a full disk: every save of ``run/session.json`` raises ENOSPC."""

    saves_tried = 0

    def _save(self) -> None:
        type(self).saves_tried += 1
        raise OSError(errno.ENOSPC, "No space left on device", str(self.env.paths.session_file))


class RaisingTracker(TuningTracker):
    """The real tuning tracker, whose ``observe`` raises (a bug in the stats code)."""

    def observe(self, strategy: str, allowed: bool, blocked_by: str | None) -> None:
        raise ZeroDivisionError("injected: win rate of no trades")


class UnreadableSwitch(AdxFilter):
    """The real ADX filter whose on/off switch cannot be read: the gate fails while building a chain."""

    @property
    def enabled(self) -> Any:
        raise RuntimeError("injected: settings object lost its ADX_FILTER_ENABLED")
