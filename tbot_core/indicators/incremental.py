"""Incremental indicators: one update per new bar, O(1) each, equal to the array form.

Live trading and ``Strategy.simulate`` both feed bars through these classes,
so a backtest exercises exactly the arithmetic the engine uses.  Each
``update`` returns the current value (NaN during warm-up).
"""

from __future__ import annotations

import math
from collections import deque

from tbot_core.indicators.arrays import EXACT_STD_BELOW, TA_EPSILON

NAN = math.nan
# Rolling sums are recomputed from the window this often so drift cannot build up.
_RESUM_EVERY = 1024


_NEG_EPSILON = -TA_EPSILON  # TA-Lib's zero guard, -eps < x < eps, written out where it runs per bar


class RollingStats:
    """Mean and population standard deviation of the last ``period`` values."""

    __slots__ = ("period", "_window", "_ref", "_s1", "_s2", "_since_resum")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"period: expected a whole number >= 1, got {period!r}")
        self.period = period
        self._window: deque[float] = deque(maxlen=period)
        self._ref = NAN
        self._s1 = self._s2 = 0.0
        self._since_resum = 0

    @property
    def ready(self) -> bool:
        return len(self._window) == self.period

    def update(self, x: float) -> None:
        window = self._window
        if len(window) == self.period:
            old = window[0] - self._ref
            self._s1 -= old
            self._s2 -= old * old
        window.append(x)
        self._since_resum += 1
        if self._since_resum >= _RESUM_EVERY or self._ref != self._ref:
            self._resum()
        else:
            dev = x - self._ref
            self._s1 += dev
            self._s2 += dev * dev

    def _resum(self) -> None:
        self._ref = self._window[0]
        devs = [v - self._ref for v in self._window]
        self._s1 = math.fsum(devs)
        self._s2 = math.fsum(d * d for d in devs)
        self._since_resum = 0

    def mean(self) -> float:
        return self._ref + self._s1 / self.period if self.ready else NAN

    def std(self) -> float:
        return self._std_of_full() if self.ready else NAN

    def _std_of_full(self) -> float:
        """``std()`` of a full window (the caller checked ``ready``)."""
        m = self._s1 / self.period
        var = self._s2 / self.period - m * m
        if var < (EXACT_STD_BELOW * (self._ref + m)) ** 2:
            # Running sums cancel badly when the spread is tiny next to the price (a flat
            # window after a jump): recompute exactly, as the array form does.
            mean = math.fsum(self._window) / self.period
            var = math.fsum((v - mean) ** 2 for v in self._window) / self.period
        return math.sqrt(max(var, 0.0))


class IncrementalSMA:
    __slots__ = ("_stats",)

    def __init__(self, period: int = 20) -> None:
        self._stats = RollingStats(period)

    def update(self, close: float) -> float:
        self._stats.update(close)
        return self._stats.mean()


class IncrementalBollinger:
    """(upper, middle, lower) after each close; NaN triple during warm-up."""

    __slots__ = ("_stats", "num_std", "value")

    def __init__(self, period: int = 20, num_std: float = 2.0) -> None:
        self._stats = RollingStats(period)
        self.num_std = float(num_std)
        self.value = (NAN, NAN, NAN)

    def update(self, close: float) -> tuple[float, float, float]:
        stats = self._stats
        stats.update(close)
        if len(stats._window) < stats.period:  # warm-up: mean() and std() would both say NaN
            return self.value
        mid = stats._ref + stats._s1 / stats.period  # mean() and std() of the full window, without their checks
        width = stats._std_of_full() * self.num_std
        self.value = (mid + width, mid, mid - width)
        return self.value


class IncrementalEMA:
    __slots__ = ("period", "_k", "_seed", "value")

    def __init__(self, period: int = 20) -> None:
        self.period = period
        self._k = 2.0 / (period + 1)
        self._seed: list[float] = []
        self.value = NAN

    def update(self, close: float) -> float:
        if len(self._seed) < self.period:
            self._seed.append(close)
            if len(self._seed) == self.period:
                self.value = math.fsum(self._seed) / self.period
            return self.value
        self.value = self._k * close + (1.0 - self._k) * self.value
        return self.value


class IncrementalATR:
    """Wilder ATR (TA-Lib): mean of the first ``period`` true ranges, then smoothed."""

    __slots__ = ("period", "_prev_close", "_seed", "value")

    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._prev_close = NAN
        self._seed: list[float] = []
        self.value = NAN

    def update(self, high: float, low: float, close: float) -> float:
        prev, self._prev_close = self._prev_close, close
        if prev != prev:
            return self.value
        tr = max(high, prev) - min(low, prev)
        if len(self._seed) < self.period:
            self._seed.append(tr)
            if len(self._seed) == self.period:
                self.value = sum(self._seed) / self.period
            return self.value
        self.value = (self.value * (self.period - 1) + tr) / self.period
        return self.value


class IncrementalADX:
    """Wilder's ADX, step for step as TA-Lib's ``ADX`` (including its zero guards)."""

    __slots__ = ("period", "_bars", "_prev", "_plus", "_minus", "_tr", "_sum_dx", "value", "plus_di", "minus_di")

    def __init__(self, period: int = 14) -> None:
        self.period = period
        self._bars = 0
        self._prev = (NAN, NAN, NAN)
        self._plus = self._minus = self._tr = self._sum_dx = 0.0
        self.value = NAN
        self.plus_di = self.minus_di = NAN

    def update(self, high: float, low: float, close: float) -> float:
        n = self.period
        prev_high, prev_low, prev_close = self._prev
        self._prev = (high, low, close)
        bar = self._bars
        self._bars = bar + 1
        if bar == 0:
            return self.value
        up, down = high - prev_high, prev_low - low
        tr = max(high, prev_close) - min(low, prev_close)
        if bar < n:  # summing the first period-1 movements
            self._add_movement(up, down)
            self._tr += tr
            return self.value
        self._plus -= self._plus / n
        self._minus -= self._minus / n
        # The movement and DX steps written out, not called: this runs on every bar of every symbol.
        if down > 0 and up < down:
            self._minus += down
        elif up > 0 and up > down:
            self._plus += up
        self._tr = total_range = self._tr - self._tr / n + tr
        dx: float | None = None
        if not _NEG_EPSILON < total_range < TA_EPSILON:
            self.minus_di = minus_di = 100.0 * (self._minus / total_range)
            self.plus_di = plus_di = 100.0 * (self._plus / total_range)
            total = minus_di + plus_di
            if not _NEG_EPSILON < total < TA_EPSILON:
                dx = 100.0 * (abs(minus_di - plus_di) / total)
        if bar < 2 * n - 1:
            self._sum_dx += 0.0 if dx is None else dx
        elif bar == 2 * n - 1:
            self._sum_dx += 0.0 if dx is None else dx
            self.value = self._sum_dx / n
        elif dx is not None:
            self.value = (self.value * (n - 1) + dx) / n
        return self.value

    def _add_movement(self, up: float, down: float) -> None:
        if down > 0 and up < down:
            self._minus += down
        elif up > 0 and up > down:
            self._plus += up


class SessionVWAP:
    """VWAP of the typical price since the session began; ``reset()`` at each session open."""

    __slots__ = ("_pv", "_volume", "value")

    def __init__(self) -> None:
        self.reset()

    def reset(self) -> None:
        self._pv = 0.0
        self._volume = 0.0
        self.value = NAN

    def update(self, high: float, low: float, close: float, volume: float) -> float:
        self._pv += (high + low + close) / 3.0 * volume
        self._volume += volume
        self.value = self._pv / self._volume if self._volume > 0 else NAN
        return self.value
