"""``open`` (``strategies/open.py``) in array form: the opening range, its breakout, the flat exit.

Per session: the range is the high and low of the in-session bars of the
first ``STRAT_OPEN_RANGE_MINUTES``; the breakout is the first later bar
before the close window whose close leaves the range (above: buy; below:
sell, which closes a position ``open`` holds); the exit is the first bar
``STRAT_OPEN_FLAT_MINUTES_BEFORE_CLOSE`` minutes before the close.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tbot_core.backtest.fast.exact import Indicators
from tbot_core.backtest.fast.rules import Candidates, first_due, flat_reason
from tbot_core.backtest.fast.timeline import SymbolTimeline
from tbot_core.config import Settings


def candidates(t: SymbolTimeline, ind: Indicators, s: Settings) -> Candidates:
    close = t.bars.close
    ranging = t.in_session & (t.msince < s.strat_open_range_minutes)
    idx = np.flatnonzero(ranging)
    n_sessions = len(t.sessions)
    high = np.full(n_sessions + 1, np.nan)  # the last slot stands for "no session"
    low = np.full(n_sessions + 1, np.nan)
    if idx.size:
        sess = t.sess[idx]
        starts = np.flatnonzero(np.r_[True, sess[1:] != sess[:-1]])
        high[sess[starts]] = np.maximum.reduceat(t.bars.high[idx], starts)
        low[sess[starts]] = np.minimum.reduceat(t.bars.low[idx], starts)
    bar_high, bar_low = high[t.sess], low[t.sess]  # sess == -1 reads the "no session" slot
    after = t.in_session & (t.msince >= s.strat_open_range_minutes) & (t.mtc > s.strat_close_window_minutes)
    up, down = close > bar_high, close < bar_low  # NaN (no range this session) compares False
    breakout = t.first_per_session(after & (up | down))
    is_up = up[breakout]
    flat = s.strat_open_flat_minutes_before_close

    def why(k: int, side: str) -> tuple[str, dict[str, Any]]:
        h, lo, c = float(bar_high[k]), float(bar_low[k]), float(close[k])
        if side == "buy":
            reason = f"close {c:.4f} broke above the opening-range high {h:.4f}"
        else:
            reason = f"close {c:.4f} broke below the opening-range low {lo:.4f}"
        return reason, {"range_high": h, "range_low": lo}

    return Candidates(
        buys=breakout[is_up],
        sells=breakout[~is_up],
        exits=first_due(t, flat),
        why=why,
        exit_why=lambda k: flat_reason(t, k, flat),
    )
