"""A strategy's candidates of one symbol as tables for settling many events at once (``EventLoop``).

Once a ticker is used for the session, the strategy's remaining entries of
that session all meet the same block (``EventLoop._skip_rest``); while it
holds none of the symbol, its sells until its next possible entry all meet
the same nothing (``EventLoop._skip_sells``).  These tables let the loop
count such a run of events with a few list lookups and skip them when they
come up, instead of building each one's answer.
"""

from __future__ import annotations

import math

import numpy as np

from tbot_core.backtest.fast.rules import Candidates
from tbot_core.backtest.fast.timeline import SymbolTimeline


class Rest:
    """One strategy's buy candidates of one symbol, for skipping a session's rest once its ticker is used.

    Per candidate ``j``: ``sess[j]``, its session; ``valid[j]``, it has a session and a price
    ``signal_problem`` accepts; ``counted[j]``, it can be counted in bulk (valid, and no exit candidate on
    its bar); ``ends[j]``, one past the session's last candidate; ``before[j]``, how many of the first ``j``
    can be.  ``end``: the candidates below it that can be were counted.
    """

    __slots__ = ("bars", "sess", "valid", "counted", "ends", "open_from", "before", "end")

    def __init__(self, columns: list[list[int]], before: list[int]) -> None:
        self.bars, self.sess, self.valid, self.counted, self.ends, self.open_from = columns
        self.before, self.end = before, 0

    @classmethod
    def empty(cls) -> Rest:
        return cls([[], [], [], [], [], []], [0])

    @classmethod
    def of(cls, t: SymbolTimeline, c: Candidates) -> Rest:
        buys = c.buys
        if buys.size == 0:
            return cls.empty()
        close, sess = t.bars.close[buys], t.sess[buys]
        valid = (sess >= 0) & (close > 0.0) & (close < math.inf)
        counted = valid & ~np.isin(buys, c.exits)
        ends = _session_ends(sess)
        before = np.r_[0, np.cumsum(counted)]
        # open_from[j]: the first candidate at or after j that cannot be counted in bulk (or their number)
        uncounted = np.flatnonzero(~counted)
        open_from = np.r_[uncounted, buys.size][np.searchsorted(uncounted, np.arange(buys.size))]
        columns = np.stack([buys, sess, valid, counted, ends, open_from]).astype(np.int64).tolist()
        return cls(columns, before.tolist())


def _session_ends(sess: np.ndarray) -> np.ndarray:
    """Per entry of ``sess`` (sorted by bar), one past the last entry of its session."""
    if sess.size == 0:
        return sess
    bounds = np.r_[np.flatnonzero(sess[1:] != sess[:-1]) + 1, sess.size]
    return np.repeat(bounds, np.diff(np.r_[0, bounds]))


class Sells:
    """One strategy's sell candidates of one symbol: their bars, each one's session end (as ``Rest.ends``),
    and ``end``: the candidates below it were counted in bulk (``EventLoop._skip_sells``)."""

    __slots__ = ("bars", "ends", "end")

    def __init__(self, bars: list[int], ends: list[int]) -> None:
        self.bars, self.ends, self.end = bars, ends, 0

    @classmethod
    def empty(cls) -> Sells:
        return cls([], [])

    @classmethod
    def of(cls, t: SymbolTimeline, c: Candidates) -> Sells:
        return cls(c.sells.tolist(), _session_ends(t.sess[c.sells]).tolist())
