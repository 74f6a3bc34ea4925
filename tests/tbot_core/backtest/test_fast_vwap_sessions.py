"""``Vwap`` sums sessions of one length as rows of a block: irregular sessions must give the same floats.

Bars missing here and there make sessions of different lengths, runs of equal ones and a
partial last session; every value must equal ``SessionVWAP`` reset at each session's first bar.
"""

from __future__ import annotations

import math

import numpy as np

from tbot_core.backtest.data import bars_from_arrays
from tbot_core.backtest.fast.exact import Vwap
from tbot_core.backtest.fast.timeline import build_timeline
from tbot_core.indicators import SessionVWAP


def test_the_vwap_of_irregular_sessions_equals_the_incremental_class():
    rng = np.random.default_rng(11)
    minutes = np.datetime64("2026-03-02T14:30", "ns") + np.arange(6 * 24 * 60) * np.timedelta64(1, "m")
    keep = rng.random(minutes.size) > 0.02  # a few bars missing: sessions of unequal lengths
    keep[: 3 * 24 * 60] = True  # the first days whole: a run of equal sessions
    ts = minutes[keep]
    n = ts.size
    close = 100 * np.exp(np.cumsum(rng.normal(0, 0.002, n)))
    high, low = close * 1.001, close * 0.999
    volume = rng.integers(0, 4, n).astype(float) * 100
    bars = {"AAPL": bars_from_arrays("AAPL", ts, close, high, low, close, volume)}
    t = build_timeline(bars).per["AAPL"]
    vwap, expected, day = SessionVWAP(), [], None
    for k, (h, lo, c, v) in enumerate(zip(high.tolist(), low.tolist(), close.tolist(), volume.tolist())):
        if t.sess[k] >= 0 and t.sess[k] != day:
            day = t.sess[k]
            vwap.reset()
        expected.append(vwap.update(h, lo, c, v))
    got = Vwap(t)
    values = [got.at(k) for k in range(n)]
    assert len(set(np.diff(np.flatnonzero(np.r_[True, t.group[1:] != t.group[:-1]])).tolist())) > 1
    assert all((math.isnan(a) and math.isnan(b)) or a == b for a, b in zip(expected, values, strict=True))
