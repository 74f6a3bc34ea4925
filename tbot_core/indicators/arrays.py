"""Array-form indicators: whole price histories in, arrays out, NaN during warm-up.

Definitions follow TA-Lib (Wilder smoothing for ATR/ADX, population standard
deviation for Bollinger bands, SMA-seeded EMA) so backtests can be checked
against the reference library.  Recurrences run in C through
``scipy.signal.lfilter``; rolling sums are taken per block around a local
reference price so a million-bar history does not accumulate rounding drift.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import as_strided
from scipy.signal import lfilter

# TA-Lib treats |x| < 1e-8 as zero when dividing by smoothed sums (TA_IS_ZERO).
TA_EPSILON = 1e-8
_BLOCK = 4096


def _as_float(values: object, name: str) -> np.ndarray:
    arr = np.ascontiguousarray(values, dtype=np.float64)
    if arr.ndim != 1:
        raise ValueError(f"{name}: expected a one-dimensional array, got {arr.ndim} dimensions")
    return arr


def _check_period(period: int, name: str = "period") -> int:
    if int(period) != period or period < 1:
        raise ValueError(f"{name}: expected a whole number >= 1, got {period!r}")
    return int(period)


def _nan_like(n: int) -> np.ndarray:
    return np.full(n, np.nan)


def _wilder_sum(values: np.ndarray, period: int, start_sum: float) -> np.ndarray:
    """``S_t = S_{t-1} * (1 - 1/period) + x_t`` seeded with ``start_sum``."""
    k = 1.0 - 1.0 / period
    return lfilter([1.0], [1.0, -k], values, zi=[start_sum * k])[0]


def _window_sums(x: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per full window: (reference, sum of x-ref, sum of (x-ref)^2), blocked to bound drift."""
    n = x.size
    outputs = n - period + 1
    blocks = -(-outputs // _BLOCK)
    length = _BLOCK + period - 1
    padded = np.empty(blocks * _BLOCK + period - 1)
    padded[:n] = x
    padded[n:] = x[-1]
    rows = as_strided(padded, shape=(blocks, length), strides=(_BLOCK * 8, 8), writeable=False)
    ref = rows[:, :1].copy()
    centred = rows - ref
    csum = np.zeros((blocks, length + 1))
    np.cumsum(centred, axis=1, out=csum[:, 1:])
    np.multiply(centred, centred, out=centred)
    csq = np.zeros((blocks, length + 1))
    np.cumsum(centred, axis=1, out=csq[:, 1:])
    s1 = csum[:, period:] - csum[:, :-period]
    s2 = csq[:, period:] - csq[:, :-period]
    return np.broadcast_to(ref, s1.shape).ravel()[:outputs], s1.ravel()[:outputs], s2.ravel()[:outputs]


def sma(close: object, period: int = 20) -> np.ndarray:
    x = _as_float(close, "close")
    period = _check_period(period)
    out = _nan_like(x.size)
    if x.size >= period:
        ref, s1, _ = _window_sums(x, period)
        out[period - 1 :] = ref + s1 / period
    return out


def bollinger(close: object, period: int = 20, num_std: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, middle, lower): SMA +- ``num_std`` population standard deviations."""
    x = _as_float(close, "close")
    period = _check_period(period)
    upper, middle, lower = _nan_like(x.size), _nan_like(x.size), _nan_like(x.size)
    if x.size >= period:
        ref, s1, s2 = _window_sums(x, period)
        mean_c = s1 / period
        var = s2 / period - mean_c * mean_c
        np.maximum(var, 0.0, out=var)
        width = np.sqrt(var)
        width *= num_std
        mid = mean_c + ref
        middle[period - 1 :] = mid
        upper[period - 1 :] = mid + width
        lower[period - 1 :] = mid - width
    return upper, middle, lower


def ema(close: object, period: int = 20) -> np.ndarray:
    """TA-Lib EMA: seeded with the SMA of the first ``period`` values, k = 2/(period+1)."""
    x = _as_float(close, "close")
    period = _check_period(period)
    out = _nan_like(x.size)
    if x.size >= period:
        k = 2.0 / (period + 1)
        seed = x[:period].mean()
        out[period - 1] = seed
        if x.size > period:
            out[period:] = lfilter([k], [1.0, -(1.0 - k)], x[period:], zi=[seed * (1.0 - k)])[0]
    return out


def true_range(high: object, low: object, close: object) -> np.ndarray:
    """TR from the second bar on (the first bar has no previous close: NaN)."""
    h, lo, c = _as_float(high, "high"), _as_float(low, "low"), _as_float(close, "close")
    _same_length(h, lo, c)
    out = _nan_like(c.size)
    if c.size > 1:
        out[1:] = np.maximum(h[1:], c[:-1]) - np.minimum(lo[1:], c[:-1])
    return out


def atr(high: object, low: object, close: object, period: int = 14) -> np.ndarray:
    """Wilder ATR: first value is the mean of ``period`` true ranges (index ``period``)."""
    period = _check_period(period)
    tr = true_range(high, low, close)
    out = _nan_like(tr.size)
    if tr.size > period:
        seed = tr[1 : period + 1].mean()
        out[period] = seed
        if tr.size > period + 1:
            k = 1.0 - 1.0 / period
            out[period + 1 :] = lfilter([1.0 / period], [1.0, -k], tr[period + 1 :], zi=[seed * k])[0]
    return out


def adx(high: object, low: object, close: object, period: int = 14) -> np.ndarray:
    """Wilder's ADX as TA-Lib computes it; first value at index ``2*period - 1``.

    The directional index only needs the smoothed +DM/-DM ratio (true range
    cancels), so the fast path smooths two series.  Where TA-Lib's zero guards
    would apply (flat prices, no directional movement) the exact bar-by-bar
    form decides instead, so both forms always agree.
    """
    h, lo, c = _as_float(high, "high"), _as_float(low, "low"), _as_float(close, "close")
    _same_length(h, lo, c)
    period = _check_period(period)
    n = c.size
    out = _nan_like(n)
    if n < 2 * period:
        return out
    up = h[1:] - h[:-1]
    down = lo[:-1] - lo[1:]
    plus = np.where((up > 0) & (up > down), up, 0.0)
    minus = np.where((down > 0) & (down > up), down, 0.0)
    seeds = (plus[: period - 1].sum(), minus[: period - 1].sum())
    s_plus = _wilder_sum(plus[period - 1 :], period, seeds[0])
    s_minus = _wilder_sum(minus[period - 1 :], period, seeds[1])
    total = s_plus + s_minus
    if not (total >= 1e-6).all():
        return _adx_exact(h, lo, c, period)
    dx = np.abs(s_plus - s_minus)
    dx /= total
    dx *= 100.0
    first = dx[:period].mean()
    out[2 * period - 1] = first
    if n > 2 * period:
        k = 1.0 - 1.0 / period
        out[2 * period :] = lfilter([1.0 / period], [1.0, -k], dx[period:], zi=[first * k])[0]
    return out


def _adx_exact(h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int) -> np.ndarray:
    from tbot_core.indicators.incremental import IncrementalADX

    state = IncrementalADX(period)
    return np.array([state.update(hi, low, close) for hi, low, close in zip(h.tolist(), lo.tolist(), c.tolist())])


def session_vwap(high: object, low: object, close: object, volume: object, session_id: object) -> np.ndarray:
    """VWAP of the typical price, restarted at every change of ``session_id``; NaN until volume trades."""
    h, lo, c, v = (_as_float(a, name) for a, name in ((high, "high"), (low, "low"), (close, "close"), (volume, "volume")))
    _same_length(h, lo, c, v)
    sessions = np.asarray(session_id)
    typical_volume = (h + lo + c) / 3.0 * v
    starts = np.flatnonzero(np.r_[True, sessions[1:] != sessions[:-1]]) if c.size else np.array([], dtype=int)
    pv, vol = np.empty(c.size), np.empty(c.size)
    for begin, end in zip(starts, [*starts[1:], c.size]):
        np.cumsum(typical_volume[begin:end], out=pv[begin:end])
        np.cumsum(v[begin:end], out=vol[begin:end])
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(vol > 0, pv / vol, np.nan)


def _same_length(*arrays: np.ndarray) -> None:
    sizes = {a.size for a in arrays}
    if len(sizes) != 1:
        raise ValueError(f"price arrays: expected equal lengths, got {sorted(sizes)}")
