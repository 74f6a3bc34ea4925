"""The strategies' indicators over whole arrays, bit for bit as the incremental classes compute them.

A strategy compares indicator values with thresholds (a close back at its
mean, a stretch of 1.5 ATR); one unit in the last place decides such a
comparison when the two sides are equal, which synthetic and flat prices
make common.  So the fast engine does not use the TA-Lib-style array forms
(``tbot_core.indicators.arrays``: same values to ~1e-12, different rounding)
for decisions, but replays the incremental arithmetic of
``tbot_core.indicators.incremental`` over arrays:

* ``RollingStats`` (Bollinger middle and width, SMA): running sums against a
  reference that is re-summed with ``math.fsum`` every 1024 updates.  Each
  update is ``s -= old; s += new``; in a block those two operations per bar
  are one interleaved ``np.cumsum`` (an accumulate is sequential, never
  reassociated), started from the block's ``fsum``.
* ``IncrementalATR``: Wilder's recursion cannot be vectorised exactly; the array
  form (``indicators.atr``, a few ulps away) decides unless a stretch lies
  within ``TIE`` of its threshold, where the recursion is folded with
  ``itertools.accumulate`` (no filter reads a snapshot's ATR).
* ``SessionVWAP``: sequential sums from the session's first bar.
* ``IncrementalADX``: only the ADX filter reads it, at candidate events; the
  array form is used unless it lies within ``ADX_TIE`` of the threshold, where
  the incremental class is replayed up to that bar.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from itertools import accumulate

import numpy as np

from tbot_core.backtest.fast.timeline import SymbolTimeline
from tbot_core.indicators import IncrementalADX, adx, atr
from tbot_core.indicators.arrays import EXACT_STD_BELOW
from tbot_core.signals import IndicatorSnapshot

RESUM_EVERY = 1024  # tbot_core.indicators.incremental._RESUM_EVERY
ADX_TIE = 1e-7  # relative distance from the threshold under which the ADX is recomputed bar by bar
TIE = 1e-9  # relative distance from a threshold under which an array-form value is recomputed exactly


class Rolling:
    """``RollingStats(period)`` after every bar of ``x``: its reference and running sums."""

    def __init__(self, x: np.ndarray, period: int, *, squares: bool) -> None:
        self.x, self.period = x, period
        n = x.size
        blocks = -(-n // RESUM_EVERY) if n else 0
        size = blocks * RESUM_EVERY
        block_starts = np.arange(0, size, RESUM_EVERY)
        first = np.maximum(block_starts - period + 1, 0)
        self.ref = x[first] if n else np.empty(0)
        # Bar k's value and the one leaving its window (``k - period``), less the block's reference, in rows of
        # one block; 0.0 past the last bar and before a full window (slices and a padded copy: no gather).
        padded = np.zeros(size)
        padded[:n] = x
        dev = padded.reshape(blocks, RESUM_EVERY) - self.ref[:, None]
        dev.reshape(-1)[n:] = 0.0
        padded[:] = 0.0
        if n > period:
            padded[period:n] = x[: n - period]
        old = padded.reshape(blocks, RESUM_EVERY) - self.ref[:, None]
        flat = old.reshape(-1)
        flat[: min(period, n)] = 0.0
        flat[n:] = 0.0
        starts = list(zip(first.tolist(), block_starts.tolist()))
        self.s1 = self._sums([math.fsum(x[a : b + 1] - x[a]) for a, b in starts], -old, dev)[:n]
        self.s2: np.ndarray | None = None
        if squares:
            devs = [(x[a : b + 1] - x[a]).tolist() for a, b in starts]
            self.s2 = self._sums([math.fsum(d * d for d in row) for row in devs], -(old * old), dev * dev)[:n]

    @staticmethod
    def _sums(start: list[float], minus: np.ndarray, plus: np.ndarray) -> np.ndarray:
        # Per block the terms start, -old[1], +new[1], -old[2], ... summed in that order; the running sum after
        # each bar is where its +new landed.  Laid out as (block, bar, [-old, +new]) pairs with the first pair's
        # +new slot holding the start, they are filled by two contiguous copies, not strided ones.
        blocks = len(start)
        terms = np.empty((blocks, RESUM_EVERY, 2))
        terms[:, :, 0] = minus
        terms[:, :, 1] = plus
        row = terms.reshape(blocks, 2 * RESUM_EVERY)[:, 1:]
        row[:, 0] = start
        np.cumsum(row, axis=1, out=row)
        return terms[:, :, 1].ravel()

    def ref_at(self, k: int) -> float:
        return float(self.ref[k // RESUM_EVERY])

    def means(self) -> np.ndarray:
        """``mean()`` after every bar (NaN until the window is full)."""
        refs = np.repeat(self.ref, RESUM_EVERY)[: self.x.size]
        out = refs + self.s1 / self.period
        out[: self.period - 1] = np.nan
        return out

    def std_at(self, k: int) -> float:
        """``std()`` after bar ``k``, the exact two-pass fallback included."""
        if k < self.period - 1 or self.s2 is None:
            return math.nan
        ref, s1, s2 = self.ref_at(k), float(self.s1[k]), float(self.s2[k])
        m = s1 / self.period
        var = s2 / self.period - m * m
        if var < (EXACT_STD_BELOW * (ref + m)) ** 2:
            window = self.x[k - self.period + 1 : k + 1].tolist()
            mean = math.fsum(window) / self.period
            var = math.fsum((v - mean) ** 2 for v in window) / self.period
        return math.sqrt(max(var, 0.0))


def true_ranges(t: SymbolTimeline) -> np.ndarray:
    """``max(high, prev_close) - min(low, prev_close)`` from the second bar on."""
    b = t.bars
    return np.maximum(b.high[1:], b.close[:-1]) - np.minimum(b.low[1:], b.close[:-1])


def wilder_atr(t: SymbolTimeline, period: int) -> np.ndarray:
    """``IncrementalATR(period)`` after every bar (NaN until ``period`` true ranges are in)."""
    n = len(t.bars)
    out = np.full(n, np.nan)
    if n <= period:
        return out
    tr = true_ranges(t).tolist()
    seed = sum(tr[:period]) / period
    keep = period - 1
    out[period:] = list(accumulate(tr[period:], lambda v, x: (v * keep + x) / period, initial=seed))
    return out


class Vwap:
    """``SessionVWAP`` after every bar: typical price times volume summed in order since the indicator's reset."""

    def __init__(self, t: SymbolTimeline) -> None:
        b = t.bars
        n = len(b)
        pv = (b.high + b.low + b.close) / 3.0 * b.volume
        self.pv, self.volume = np.empty(n), np.empty(n)
        starts = np.flatnonzero(np.r_[True, t.group[1:] != t.group[:-1]]) if n else np.empty(0, np.int64)
        lengths = np.diff(np.r_[starts, n])
        # Consecutive sessions of one length are the rows of one 2-D block: an accumulate along a row adds its
        # values in order, as one session's running sum does (the same floats), with one call per block.
        runs = np.flatnonzero(np.r_[True, lengths[1:] != lengths[:-1]]).tolist() if n else []
        for first, last in zip(runs, [*runs[1:], len(starts)]):
            size, begin = int(lengths[first]), int(starts[first])
            end = begin + size * (last - first)
            shape = (last - first, size)
            np.cumsum(pv[begin:end].reshape(shape), axis=1, out=self.pv[begin:end].reshape(shape))
            np.cumsum(b.volume[begin:end].reshape(shape), axis=1, out=self.volume[begin:end].reshape(shape))

    def at(self, k: int) -> float:
        volume = float(self.volume[k])
        return float(self.pv[k]) / volume if volume > 0 else math.nan


class Indicators:
    """One symbol's ``SymbolIndicators`` at any bar, built from the arrays on first use."""

    def __init__(self, t: SymbolTimeline, adx_period: int, bb_period: int, num_std: float) -> None:
        self.t = t
        self.adx_period, self.bb_period, self.num_std = adx_period, bb_period, num_std
        self._rolling: Rolling | None = None
        self._middle: np.ndarray | None = None
        self._atr: np.ndarray | None = None
        self._exact_atr: np.ndarray | None = None
        self._adx: np.ndarray | None = None
        self._vwap: Vwap | None = None

    def rolling(self) -> Rolling:
        """The running sums of the Bollinger window, squares included (a snapshot's width needs them)."""
        if self._rolling is None:
            self._rolling = Rolling(self.t.bars.close, self.bb_period, squares=True)
        return self._rolling

    @property
    def middle(self) -> np.ndarray:
        if self._middle is None:
            self._middle = self.rolling().means()
        return self._middle

    @property
    def atr(self) -> np.ndarray:
        """The array-form ATR (``indicators.atr``): within a few ulps of the incremental one, NaN at the same bars.

        Read where a few ulps cannot change a decision; ``exact_atr`` where they could.
        """
        if self._atr is None:
            b = self.t.bars
            self._atr = atr(b.high, b.low, b.close, self.adx_period)
        return self._atr

    @property
    def exact_atr(self) -> np.ndarray:
        if self._exact_atr is None:
            self._exact_atr = wilder_atr(self.t, self.adx_period)
        return self._exact_atr

    def adx_at(self, k: int, threshold: float) -> float:
        """The ADX after bar ``k``; bar by bar from the first bar where the array form is too close to call."""
        if self._adx is None:
            b = self.t.bars
            self._adx = adx(b.high, b.low, b.close, self.adx_period)
        value = float(self._adx[k])
        if math.isnan(value) or abs(value - threshold) > ADX_TIE * max(1.0, abs(threshold)):
            return value
        state = IncrementalADX(self.adx_period)
        b = self.t.bars
        for hi, lo, cl in zip(b.high[: k + 1].tolist(), b.low[: k + 1].tolist(), b.close[: k + 1].tolist()):
            value = state.update(hi, lo, cl)
        return value

    def vwap_at(self, k: int) -> float:
        if self._vwap is None:
            self._vwap = Vwap(self.t)
        return self._vwap.at(k)

    def snapshots(self, bars: np.ndarray, adx_threshold: float) -> SnapshotTable:
        """``snapshot`` after each of many bars, the arithmetic done over arrays (a strategy's candidates)."""
        if bars.size == 0:
            none = np.empty(0)
            return SnapshotTable(self.t, bars, none, none, none, none, none, none, self.vwap_at)
        rolling = self.rolling()
        assert rolling.s2 is not None
        period = self.bb_period
        ref, s1, s2 = rolling.ref[bars // RESUM_EVERY], rolling.s1[bars], rolling.s2[bars]
        m = s1 / period
        var = s2 / period - m * m
        with np.errstate(invalid="ignore"):
            std = np.sqrt(np.maximum(var, 0.0))
            careful = var < (EXACT_STD_BELOW * (ref + m)) ** 2  # the two-pass fallback, bar by bar
        for i in np.flatnonzero(careful | (bars < period - 1)).tolist():
            std[i] = rolling.std_at(int(bars[i]))
        middle = self.middle[bars]
        width = std * self.num_std
        upper, lower = middle + width, middle - width
        atr_ = self.exact_atr[bars] if self._exact_atr is not None else self.atr[bars]
        close = self.t.bars.close[bars]
        self.adx_at(int(bars[0]), adx_threshold)  # builds the array form
        assert self._adx is not None
        adx_ = self._adx[bars]
        with np.errstate(invalid="ignore"):
            close_call = np.abs(adx_ - adx_threshold) <= ADX_TIE * max(1.0, abs(adx_threshold))
        for i in np.flatnonzero(close_call).tolist():
            adx_[i] = self.adx_at(int(bars[i]), adx_threshold)
        return SnapshotTable(self.t, bars, close, adx_, upper, middle, lower, atr_, self.vwap_at)

    def snapshot(self, k: int, adx_threshold: float) -> IndicatorSnapshot:
        """``SymbolIndicators.snapshot()`` after bar ``k`` (every bar of a backtest is sound)."""
        rolling = self.rolling()
        middle = float(self.middle[k])
        width = rolling.std_at(k) * self.num_std
        return IndicatorSnapshot(
            ts=self.t.stamp(k),
            close=float(self.t.bars.close[k]),
            bars=k + 1,
            adx=self.adx_at(k, adx_threshold),
            bb_upper=middle + width,
            bb_middle=middle,
            bb_lower=middle - width,
            atr=float(self.atr[k]),
            vwap=self.vwap_at(k),
            bad_bars=0,
        )


class SnapshotTable:
    """``Indicators.snapshot`` after each of many bars, as arrays; an ``IndicatorSnapshot`` is built when asked.

    Most candidates never reach a filter that reads one (the ticker is used, the strategy holds it), so
    building them all up front cost more than the arithmetic.  No filter reads the VWAP: it is worked
    out (``Indicators.vwap_at``, the same division) only for a snapshot that is built.
    """

    def __init__(
        self,
        t: SymbolTimeline,
        bars: np.ndarray,
        close: np.ndarray,
        adx: np.ndarray,
        upper: np.ndarray,
        middle: np.ndarray,
        lower: np.ndarray,
        atr: np.ndarray,
        vwap: Callable[[int], float],
    ) -> None:
        self.t, self.bars = t, bars
        self.close, self.adx, self.upper, self.middle, self.lower, self.atr, self.vwap = (
            close,
            adx,
            upper,
            middle,
            lower,
            atr,
            vwap,
        )
        self._row = dict(zip(bars.tolist(), range(bars.size)))

    def get(self, k: int) -> IndicatorSnapshot | None:
        i = self._row.get(k)
        if i is None:
            return None
        return IndicatorSnapshot(
            self.t.stamp(k),
            float(self.close[i]),
            k + 1,
            float(self.adx[i]),
            float(self.upper[i]),
            float(self.middle[i]),
            float(self.lower[i]),
            float(self.atr[i]),
            self.vwap(k),
            0,
        )
