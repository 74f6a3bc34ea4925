"""Indicators: hand-computed values, TA-Lib agreement, and incremental == array form."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core import indicators as ind


def test_bollinger_of_one_to_five_uses_population_std():
    upper, middle, lower = ind.bollinger([1, 2, 3, 4, 5], period=5, num_std=2.0)
    assert np.isnan(middle[:4]).all()
    assert middle[4] == pytest.approx(3.0)
    assert upper[4] == pytest.approx(3.0 + 2 * math.sqrt(2.0))  # population var of 1..5 is 2
    assert lower[4] == pytest.approx(3.0 - 2 * math.sqrt(2.0))


def test_sma_and_ema_match_hand_computation():
    assert ind.sma([2, 4, 6, 8], 2)[1:].tolist() == pytest.approx([3, 5, 7])
    ema = ind.ema([1, 2, 3, 4], 3)  # seed = mean(1,2,3) = 2, k = 0.5 -> 0.5*4 + 0.5*2 = 3
    assert np.isnan(ema[:2]).all() and ema[2:].tolist() == pytest.approx([2.0, 3.0])


def test_atr_is_wilder_smoothed_true_range():
    high, low, close = [10, 12, 13, 12], [9, 10, 11, 10], [9.5, 11, 12, 11]
    # TR from bar 1: max(12,9.5)-min(10,9.5)=2.5; 13-11=2 (prev close 11); max(12,12)-min(10,12)=2
    atr = ind.atr(high, low, close, period=2)
    assert np.isnan(atr[:2]).all()
    assert atr[2] == pytest.approx((2.5 + 2.0) / 2)
    assert atr[3] == pytest.approx((2.25 * 1 + 2.0) / 2)


def test_adx_is_100_in_a_straight_uptrend_and_0_when_flat():
    trend = np.arange(1.0, 60.0)
    assert ind.adx(trend + 0.5, trend - 0.5, trend, 14)[-1] == pytest.approx(100.0)
    flat = np.full(60, 5.0)
    out = ind.adx(flat, flat, flat, 14)
    assert np.isnan(out[:27]).all() and (out[27:] == 0.0).all()


def test_too_little_history_gives_only_nan():
    assert np.isnan(ind.adx([1, 2, 3], [0.5, 1, 2], [1, 2, 3], 14)).all()
    assert all(np.isnan(band).all() for band in ind.bollinger([1.0, 2.0], 20))


def test_bad_shapes_are_refused_with_the_field_name():
    with pytest.raises(ValueError, match="equal lengths"):
        ind.adx([1, 2, 3], [1, 2], [1, 2, 3])
    with pytest.raises(ValueError, match="period"):
        ind.sma([1, 2, 3], 0)


def _walk(seed: int, n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    close = 100 + np.cumsum(rng.normal(0, 0.5, n))
    return close + rng.random(n), close - rng.random(n), close


def test_array_forms_agree_with_talib_after_warm_up():
    talib = pytest.importorskip("talib")
    high, low, close = _walk(7, 3000)
    pairs = [
        (ind.adx(high, low, close, 14), talib.ADX(high, low, close, 14)),
        (ind.atr(high, low, close, 14), talib.ATR(high, low, close, 14)),
        (ind.ema(close, 10), talib.EMA(close, 10)),
        (ind.bollinger(close, 20, 2.0)[0], talib.BBANDS(close, 20, 2.0, 2.0, 0)[0]),
    ]
    for ours, theirs in pairs:
        assert np.array_equal(np.isnan(ours), np.isnan(theirs))
        assert np.nanmax(np.abs(ours - theirs)) <= 1e-8


def test_adx_exact_path_handles_bars_without_directional_movement():
    talib = pytest.importorskip("talib")
    high, low, close = _walk(3, 200)
    high[:40], low[:40], close[:40] = 100.0, 99.0, 99.5  # inside bars: no +DM/-DM at all
    ours, theirs = ind.adx(high, low, close, 14), talib.ADX(high, low, close, 14)
    assert np.array_equal(np.isnan(ours), np.isnan(theirs))
    assert np.nanmax(np.abs(ours - theirs)) <= 1e-8


prices = st.lists(st.floats(min_value=1.0, max_value=1000.0, allow_nan=False), min_size=1, max_size=120)


@settings(max_examples=60, deadline=None)
@given(prices, st.integers(min_value=2, max_value=30), st.data())
def test_incremental_forms_equal_the_array_forms(closes, period, data):
    close = np.array(closes)
    spread = np.array(data.draw(st.lists(st.floats(0.0, 5.0), min_size=len(closes), max_size=len(closes))))
    high, low = close + spread, np.maximum(close - spread[::-1], 0.01)
    pairs = {
        "adx": (
            ind.adx(high, low, close, period),
            ind.IncrementalADX(period),
            lambda s, i: s.update(high[i], low[i], close[i]),
        ),
        "atr": (
            ind.atr(high, low, close, period),
            ind.IncrementalATR(period),
            lambda s, i: s.update(high[i], low[i], close[i]),
        ),
        "ema": (ind.ema(close, period), ind.IncrementalEMA(period), lambda s, i: s.update(close[i])),
        "sma": (ind.sma(close, period), ind.IncrementalSMA(period), lambda s, i: s.update(close[i])),
        "bb_upper": (
            ind.bollinger(close, period)[0],
            ind.IncrementalBollinger(period),
            lambda s, i: s.update(close[i])[0],
        ),
    }
    for name, (array, state, step) in pairs.items():
        live = np.array([step(state, i) for i in range(len(close))])
        assert np.array_equal(np.isnan(array), np.isnan(live)), name
        assert np.allclose(array, live, rtol=1e-9, atol=1e-7, equal_nan=True), name


def test_incremental_bollinger_does_not_drift_over_a_long_run():
    close = 100 + np.cumsum(np.random.default_rng(5).normal(0, 0.5, 20000))
    state = ind.IncrementalBollinger(20)
    live = np.array([state.update(x)[0] for x in close])
    assert np.nanmax(np.abs(live - ind.bollinger(close, 20)[0])) <= 1e-9


def test_session_vwap_restarts_each_session():
    vwap = ind.session_vwap([11, 13, 21], [9, 11, 19], [10, 12, 20], [1, 3, 2], ["a", "a", "b"])
    assert vwap.tolist() == pytest.approx([10.0, (10 * 1 + 12 * 3) / 4, 20.0])
    live = ind.SessionVWAP()
    assert live.update(11, 9, 10, 1) == pytest.approx(10.0)
    live.reset()
    assert math.isnan(live.value)
