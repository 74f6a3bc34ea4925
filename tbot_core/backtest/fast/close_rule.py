"""``close`` (``strategies/close.py``) in array form: the decision into the close and the overnight exit.

Per session: the decision bar is the first in-session bar in the last
``STRAT_CLOSE_WINDOW_MINUTES``; above both the session's first open and the
VWAP it buys, below both it sells (closing a position ``close`` holds).  The
exit is the first bar ``STRAT_CLOSE_EXIT_MINUTES_AFTER_OPEN`` minutes into a
session and before its close window.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from tbot_core.backtest.fast.exact import Indicators
from tbot_core.backtest.fast.rules import Candidates
from tbot_core.backtest.fast.timeline import SymbolTimeline
from tbot_core.config import Settings


def candidates(t: SymbolTimeline, ind: Indicators, s: Settings) -> Candidates:
    window, after = s.strat_close_window_minutes, s.strat_close_exit_minutes_after_open
    close = t.bars.close
    first = t.first_per_session(t.in_session)
    session_open = np.full(len(t.sessions) + 1, np.nan)
    session_open[t.sess[first]] = t.bars.open[first]
    decide = t.first_per_session(t.in_session & (t.mtc <= window))
    vwap = np.array([ind.vwap_at(k) for k in decide.tolist()], dtype=np.float64)
    day_open = session_open[t.sess[decide]]
    c = close[decide]
    with np.errstate(invalid="ignore"):
        up = ~np.isnan(vwap) & (c > day_open) & (c > vwap)
        down = ~np.isnan(vwap) & (c < day_open) & (c < vwap)
    exits = t.first_per_session(t.in_session & (t.msince >= after) & (t.mtc > window))
    vwap_of = dict(zip(decide.tolist(), vwap.tolist()))

    def why(k: int, side: str) -> tuple[str, dict[str, Any]]:
        bar_close, opened, level = float(close[k]), float(session_open[t.sess[k]]), vwap_of.get(k, math.nan)
        reason = f"close {bar_close:.4f} vs session open {opened:.4f} and VWAP {level:.4f} into the close"
        return reason, {"session_open": opened}

    def exit_why(k: int) -> str:
        return f"overnight hold sold {after} min after the {t.session_of(k).open:%H:%M} UTC open"

    return Candidates(buys=decide[up], sells=decide[down], exits=exits, why=why, exit_why=exit_why)
