"""``mid`` (``strategies/mid.py``) in array form: stretch zones, their entries, the reversion and flat exits.

A bar decides when it is in session and its Bollinger middle and ATR exist
(ATR > 0).  Its zone is +1 / -1 / 0 for a close stretched at least
``STRETCH_ATR`` ATRs above / below the middle; an entry is a bar in the
trading window whose zone is non-zero and differs from the zone of the
session's previous deciding bar (below: buy; above: sell, which the engine
drops: ``mid`` never holds the symbol then, its exit fires first).  Exits: a
deciding bar whose close is back at or above the middle, and the first bar
``STRAT_MID_FLAT_MINUTES_BEFORE_CLOSE`` minutes before the close.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from tbot_core.backtest.fast.exact import TIE, Indicators
from tbot_core.backtest.fast.rules import Candidates, first_due, flat_reason, sorted_union
from tbot_core.backtest.fast.timeline import SymbolTimeline
from tbot_core.config import Settings
from tbot_core.strategies.mid import STRETCH_ATR


def candidates(t: SymbolTimeline, ind: Indicators, s: Settings) -> Candidates:
    close, middle, atr = t.bars.close, ind.middle, ind.atr
    with np.errstate(invalid="ignore", divide="ignore"):
        deciding = t.in_session & ~np.isnan(middle) & ~np.isnan(atr) & (atr > 0)
        stretch = np.where(deciding, (close - middle) / atr, 0.0)
        # Too close to call on the array ATR (or so small it may underflow differently): Wilder's own arithmetic.
        tie = deciding & (np.abs(np.abs(stretch) - STRETCH_ATR) <= TIE * STRETCH_ATR)
        unsure = tie | (t.in_session & ~np.isnan(middle) & (atr < 1e-300))
    if unsure.any():
        exact = ind.exact_atr
        deciding = t.in_session & ~np.isnan(middle) & ~np.isnan(exact) & (exact > 0)
        with np.errstate(invalid="ignore", divide="ignore"):
            redo = unsure & deciding
            stretch = np.where(deciding, stretch, 0.0)
            stretch[redo] = (close[redo] - middle[redo]) / exact[redo]
    zone = np.where(stretch >= STRETCH_ATR, 1, np.where(stretch <= -STRETCH_ATR, -1, 0)).astype(np.int8)
    idx = np.flatnonzero(deciding)
    zones, sess = zone[idx], t.sess[idx]
    previous = np.zeros(idx.size, dtype=np.int8)
    if idx.size > 1:
        same = sess[1:] == sess[:-1]
        previous[1:] = np.where(same, zones[:-1], 0)
    window = (t.msince[idx] >= s.strat_open_range_minutes) & (t.mtc[idx] > s.strat_close_window_minutes)
    entering = window & (zones != 0) & (zones != previous)
    flat = s.strat_mid_flat_minutes_before_close
    reverted = idx[stretch[idx] >= 0]
    due = first_due(t, flat)
    exits = sorted_union(reverted, due)
    is_due = np.zeros(len(t.bars), dtype=bool)
    is_due[due] = True
    period = s.bollinger_period

    def why(k: int, side: str) -> tuple[str, dict[str, Any]]:
        st = float(stretch[k])
        return f"close stretched {st:+.2f} ATR from its {period}-bar mean", {"stretch_atr": round(st, 4)}

    def exit_why(k: int) -> str:
        if is_due[k]:
            return flat_reason(t, k, flat)
        return f"close back at its {period}-bar mean ({float(stretch[k]):+.2f} ATR)"

    return Candidates(
        buys=idx[entering & (zones < 0)],
        sells=idx[entering & (zones > 0)],
        exits=exits,
        sells_respect_exit_sent=True,
        why=why,
        exit_why=exit_why,
    )
