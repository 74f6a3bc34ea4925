"""The fast engine's array indicators equal the incremental ones bit for bit, and its calendar equals session_on.

A comparison at a threshold (a close back at its mean, a stretch of exactly 1.5 ATR) goes the
same way in both engines only if the values are identical, not merely close; prices on a coarse
grid make such ties common, so both continuous and grid prices are checked, over more bars than
one re-summing block of the rolling sums.
"""

from __future__ import annotations

import math
from datetime import date, timedelta

import numpy as np
import pytest

from tbot_core.backtest.data import bars_from_arrays
from tbot_core.backtest.fast.exact import Indicators, Rolling, Vwap, wilder_atr
from tbot_core.backtest.fast.timeline import build_timeline
from tbot_core.indicators import IncrementalADX, IncrementalATR, RollingStats, SessionVWAP
from tbot_core.market_calendar import session_on

N = 2600  # more than two blocks of 1024 updates: the re-summing is exercised


def _prices(kind: str, seed: int = 3) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    if kind == "grid":
        close = 100 + 0.5 * np.cumsum(rng.choice([-1, 0, 0, 1], N))
        high, low = close + 0.5 * rng.integers(0, 2, N), close - 0.5 * rng.integers(0, 2, N)
    else:
        close = 100 * np.exp(np.cumsum(rng.normal(0, 0.003, N)))
        high, low = close * (1 + rng.uniform(0, 0.002, N)), close * (1 - rng.uniform(0, 0.002, N))
    volume = rng.integers(0, 3, N).astype(float) * 100
    return {"close": close, "high": high, "low": low, "open": close, "volume": volume}


def _same(a: list[float], b: np.ndarray) -> bool:
    return all((math.isnan(x) and math.isnan(y)) or x == y for x, y in zip(a, b.tolist(), strict=True))


@pytest.mark.parametrize("kind", ["grid", "continuous"])
def test_rolling_means_and_deviations_equal_rolling_stats_after_every_bar(kind):
    x = _prices(kind)["close"]
    rolling = Rolling(x, 20, squares=True)
    stats = RollingStats(20)
    means, stds = [], []
    for value in x.tolist():
        stats.update(value)
        means.append(stats.mean())
        stds.append(stats.std())
    assert _same(means, rolling.means())
    assert _same(stds, np.array([rolling.std_at(k) for k in range(N)]))


@pytest.mark.parametrize("kind", ["grid", "continuous"])
def test_wilder_atr_and_the_session_vwap_equal_the_incremental_classes(kind):
    p = _prices(kind)
    minutes = np.datetime64("2026-01-05T14:30", "ns") + np.arange(N) * np.timedelta64(5, "m")
    bars = {"AAPL": bars_from_arrays("AAPL", minutes, p["open"], p["high"], p["low"], p["close"], p["volume"])}
    t = build_timeline(bars).per["AAPL"]
    atr, vwap = IncrementalATR(14), SessionVWAP()
    atrs, vwaps, day = [], [], None
    for k, (h, lo, c, v) in enumerate(
        zip(p["high"].tolist(), p["low"].tolist(), p["close"].tolist(), p["volume"].tolist())
    ):
        atrs.append(atr.update(h, lo, c))
        if t.sess[k] >= 0 and t.sess[k] != day:  # MarketState resets VWAP at a new session day
            day = t.sess[k]
            vwap.reset()
        vwaps.append(vwap.update(h, lo, c, v))
    assert _same(atrs, wilder_atr(t, 14))
    computed = Vwap(t)
    assert _same(vwaps, np.array([computed.at(k) for k in range(N)]))


def test_the_adx_near_its_threshold_is_the_incremental_value():
    p = _prices("continuous")
    minutes = np.datetime64("2026-01-05T14:30", "ns") + np.arange(N) * np.timedelta64(5, "m")
    bars = {"AAPL": bars_from_arrays("AAPL", minutes, p["open"], p["high"], p["low"], p["close"], p["volume"])}
    ind = Indicators(build_timeline(bars).per["AAPL"], 14, 20, 2.0)
    state = IncrementalADX(14)
    values = [state.update(h, lo, c) for h, lo, c in zip(p["high"].tolist(), p["low"].tolist(), p["close"].tolist())]
    k = N - 1
    assert ind.adx_at(k, values[k]) == values[k]  # "is it above the threshold" decided on the live value


def test_the_sessions_read_from_the_schedule_are_session_on():
    days = [date(2026, 1, 1) + timedelta(days=i) for i in range(366)]
    minutes = np.array([np.datetime64(f"{d.isoformat()}T15:00", "ns") for d in days])
    ones = np.ones(len(days))
    t = build_timeline({"SPY": bars_from_arrays("SPY", minutes, ones, ones, ones, ones, ones)}).per["SPY"]
    for k, day in enumerate(days):
        expected = session_on(day)
        if expected is None:
            assert t.sess[k] == -1, day
        else:
            got = t.session_of(k)
            assert (got.day, got.open, got.close) == (expected.day, expected.open, expected.close)
