"""Array-form indicators: whole price histories in, arrays out, NaN during warm-up.

Definitions follow TA-Lib (Wilder smoothing for ATR/ADX, population standard
deviation for Bollinger bands, SMA-seeded EMA) so backtests can be checked
against the reference library.  Recurrences run in C through
``scipy.signal.lfilter``, moving mean/std through ``bottleneck``; rolling
sums are restarted per block so a million-bar history does not accumulate
rounding drift.
"""

from __future__ import annotations

import bottleneck as bn
import numpy as np
from numpy.lib.stride_tricks import as_strided, sliding_window_view
from scipy.signal import lfilter

# TA-Lib treats |x| < 1e-8 as zero when dividing by smoothed sums (TA_IS_ZERO).
TA_EPSILON = 1e-8
_BLOCK = 4096
# Windows per restart of bottleneck's moving std (its error grows with the run length).
_STD_BLOCK = 512
# Below this spread relative to the price level, both forms compute the deviation exactly.
EXACT_STD_BELOW = 1e-4
# Bars per lfilter step in _first_order (>= 2); more shortens the serial chain but adds vectorised passes.
_STRIDE = 4


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
    out = np.empty(values.size)
    _first_order(values, 1.0 - 1.0 / period, start_sum, 1.0, out)
    return out


def _first_order(x: np.ndarray, k: float, y0: float, gain: float, out: np.ndarray) -> None:
    """``out[t] = k*out[t-1] + gain*x[t]`` from ``out[-1] = y0``, the recursion in lfilter.

    lfilter is bound by one dependent multiply-add per sample, so it steps
    ``_STRIDE`` bars at a time (factor ``k**_STRIDE`` on each block's
    k-weighted sum) and the bars in between are filled in column by column,
    vectorised.  All weights are powers of k <= 1: no cancellation.
    """
    blocks = x.size // _STRIDE
    body = blocks * _STRIDE
    if blocks:
        xs, ys = x[:body].reshape(blocks, _STRIDE), out[:body].reshape(blocks, _STRIDE)
        weighted = xs[:, 0] * k
        for r in range(1, _STRIDE - 1):
            weighted += xs[:, r]
            weighted *= k
        weighted += xs[:, -1]
        ends = ys[:, -1]
        ends[:] = lfilter([gain], [1.0, -(k**_STRIDE)], weighted, zi=[y0 * k**_STRIDE])[0]
        np.multiply(ends[:-1], k, out=ys[1:, 0])
        ys[0, 0] = y0 * k
        for r in range(_STRIDE - 1):
            if r:
                np.multiply(ys[:, r - 1], k, out=ys[:, r])
            ys[:, r] += xs[:, r] * gain if gain != 1.0 else xs[:, r]
        y0 = float(ends[-1])
    if body < x.size:
        out[body:] = lfilter([gain], [1.0, -k], x[body:], zi=[y0 * k])[0]


def _window_sums(x: np.ndarray, period: int) -> tuple[np.ndarray, np.ndarray]:
    """Per full window: (reference, sum of x-ref), blocked to bound drift."""
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
    s1 = csum[:, period:] - csum[:, :-period]
    return np.broadcast_to(ref, s1.shape).ravel()[:outputs], s1.ravel()[:outputs]


def sma(close: object, period: int = 20) -> np.ndarray:
    x = _as_float(close, "close")
    period = _check_period(period)
    out = _nan_like(x.size)
    if x.size >= period:
        ref, s1 = _window_sums(x, period)
        out[period - 1 :] = ref + s1 / period
    return out


def bollinger(close: object, period: int = 20, num_std: float = 2.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(upper, middle, lower): SMA +- ``num_std`` population standard deviations.

    Bottleneck's moving std carries its running sums over its whole input, so
    its error grows with the history (1e-9 at a million bars); restarting it
    every ``_STD_BLOCK`` windows keeps it at TA-Lib's level.  Its moving mean
    drifts far less (4e-12 at a million bars) and runs on the whole input.
    """
    x = _as_float(close, "close")
    period = _check_period(period)
    n = x.size
    if n < period:
        return _nan_like(n), _nan_like(n), _nan_like(n)
    middle = bn.move_mean(x, period)
    lower = np.empty(n)
    lower[: period - 1] = np.nan
    outputs = n - period + 1
    full, rest = divmod(outputs, _STD_BLOCK)
    for first, rows, windows in ((0, full, _STD_BLOCK), (full * _STD_BLOCK, 1, rest)):
        if rows and windows:
            blocks = as_strided(
                x[first:], shape=(rows, windows + period - 1), strides=(_STD_BLOCK * 8, 8), writeable=False
            )
            width = bn.move_std(blocks, period, axis=1, ddof=0)[:, period - 1 :]
            start = first + period - 1
            lower[start : start + rows * windows].reshape(rows, windows)[...] = width
    _exact_small_std(x, period, middle, lower)
    lower[period - 1 :] *= num_std
    upper = np.add(middle, lower)
    np.subtract(middle, lower, out=lower)
    return upper, middle, lower


def _exact_small_std(x: np.ndarray, period: int, middle: np.ndarray, std: np.ndarray) -> None:
    """Recompute, two-pass, the windows whose spread is tiny next to the price.

    There the moving sums cancel (a flat window right after a jump leaves a
    1e-6 residue); the incremental form switches to the exact formula at the
    same threshold, so both forms agree.  Rare on real prices, so cheap.
    """
    tail = slice(period - 1, None)
    small = np.flatnonzero(std[tail] < EXACT_STD_BELOW * np.abs(middle[tail]))
    if small.size:
        windows = sliding_window_view(x, period)[small]
        std[tail][small] = windows.std(axis=1)


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
    would apply (flat prices, no directional movement) or the input holds NaN,
    the exact bar-by-bar form decides instead, so both forms always agree.
    At a million bars the cost is memory passes and fresh pages, not
    arithmetic, so two buffers are reused for every intermediate series.
    """
    h, lo, c = _as_float(high, "high"), _as_float(low, "low"), _as_float(close, "close")
    _same_length(h, lo, c)
    period = _check_period(period)
    n = c.size
    if n < 2 * period:
        return _nan_like(n)
    plus_buf, minus_buf = _directional_movement(h, lo)
    plus, minus = plus_buf[1:], minus_buf[1:]  # bar i's movement at i - 1
    s_plus = _wilder_sum(plus[period - 1 :], period, plus[: period - 1].sum())
    s_minus = _wilder_sum(minus[period - 1 :], period, minus[: period - 1].sum())
    total = np.add(s_plus, s_minus, out=plus_buf[period:])
    if not total.min() >= 1e-6:  # also false for NaN
        return _adx_exact(h, lo, c, period)
    # DX / 100 of bar i + period, at i; the 100/period scale rides on the smoothing's gain.
    ratio = np.subtract(s_plus, s_minus, out=minus_buf[period:])
    np.abs(ratio, out=ratio)
    ratio /= total
    out = np.empty(n)
    out[: 2 * period - 1] = np.nan
    out[2 * period - 1] = first = ratio[:period].sum() * 100.0 / period
    smoothed = out[2 * period :]
    _first_order(ratio[period:], 1.0 - 1.0 / period, first, 100.0 / period, smoothed)
    # k*y + x/period can overshoot 100 by an ulp where TA-Lib's (y*(period-1) + x)/period cannot.
    np.minimum(smoothed, 100.0, out=smoothed)
    return out


def _directional_movement(h: np.ndarray, lo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(+DM, -DM) of bar i at index i (index 0 unused), masked by multiplying:
    a random-signed condition makes ``np.where`` branch-mispredict at every bar."""
    plus_buf, minus_buf = np.empty(h.size), np.empty(h.size)
    up = np.subtract(h[1:], h[:-1], out=plus_buf[1:])
    down = np.subtract(lo[:-1], lo[1:], out=minus_buf[1:])
    up_wins = np.greater(up, down)
    down_wins = np.greater(down, up)
    positive = np.greater(up, 0.0)
    up_wins &= positive
    np.greater(down, 0.0, out=positive)
    down_wins &= positive
    up *= up_wins
    down *= down_wins
    return plus_buf, minus_buf


def _adx_exact(h: np.ndarray, lo: np.ndarray, c: np.ndarray, period: int) -> np.ndarray:
    from tbot_core.indicators.incremental import IncrementalADX

    state = IncrementalADX(period)
    return np.array([state.update(hi, low, close) for hi, low, close in zip(h.tolist(), lo.tolist(), c.tolist())])


def session_vwap(high: object, low: object, close: object, volume: object, session_id: object) -> np.ndarray:
    """VWAP of the typical price, restarted at every change of ``session_id``; NaN until volume trades."""
    h, lo, c, v = (
        _as_float(a, name) for a, name in ((high, "high"), (low, "low"), (close, "close"), (volume, "volume"))
    )
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
