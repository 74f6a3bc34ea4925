"""``sma_cross``: the plain reference strategy (fast/slow moving-average crossover).

No session rules and no filters of its own, so backtests of the engine and
of the metrics have a well-known baseline to compare against.

One rule, two callers: :func:`crossings` decides on arrays.  Live, ``decide``
hands it the previous and the current bar's averages (from the incremental
SMAs); ``simulate`` hands it whole histories (from the array SMAs, which the
indicator tests prove equal to the incremental ones).  So a backtest of a
million bars runs at array speed through the very rule the engine trades by.
"""

from __future__ import annotations

import math
from decimal import Decimal

import numpy as np
import pandas as pd

from tbot_core.bars import Bar
from tbot_core.config import Settings
from tbot_core.errors import ConfigError
from tbot_core.indicators import IncrementalSMA, sma
from tbot_core.market_calendar import SessionTime
from tbot_core.signals import Signal
from tbot_core.strategies.base import Strategy, SymbolState
from tbot_core.strategies.market_state import MarketState


def crossings(fast: np.ndarray, slow: np.ndarray) -> np.ndarray:
    """+1 where ``fast`` moves above ``slow``, -1 where it stops being above, else 0.

    "Above" is strict (a tie is not above).  A bar only crosses when it and
    the bar before have both averages (no crossing out of the warm-up).
    """
    above = fast > slow
    valid = ~(np.isnan(fast) | np.isnan(slow))
    out = np.zeros(len(fast), dtype=np.int8)
    changed = valid[1:] & valid[:-1] & (above[1:] != above[:-1])
    out[1:][changed] = np.where(above[1:][changed], 1, -1)
    return out


class SmaCross(Strategy):
    name = "sma_cross"
    uses_session = False

    def __init__(
        self, settings: Settings | None = None, fast: int = 10, slow: int = 20, market: MarketState | None = None
    ) -> None:
        if not 1 <= fast < slow:
            raise ValueError(f"sma_cross: expected 1 <= fast < slow, got fast={fast}, slow={slow}")
        super().__init__(settings, market)
        self.fast, self.slow = fast, slow

    def fresh(self) -> SmaCross:
        return SmaCross(self.settings, self.fast, self.slow)

    def _reason(self, up: bool) -> str:
        return f"SMA{self.fast} crossed {'above' if up else 'below'} SMA{self.slow}"

    def decide(self, bar: Bar, vix: float | None, state: SymbolState, when: SessionTime | None) -> list[Signal]:
        memo = state.memo
        if "fast" not in memo:
            memo["fast"], memo["slow"], memo["prev"] = (
                IncrementalSMA(self.fast),
                IncrementalSMA(self.slow),
                (math.nan, math.nan),
            )
        fast, slow = memo["fast"].update(bar.close), memo["slow"].update(bar.close)
        (prev_fast, prev_slow), memo["prev"] = memo["prev"], (fast, slow)
        cross = int(crossings(np.array([prev_fast, fast]), np.array([prev_slow, slow]))[1])
        if cross == 0:
            return []
        return [
            self.signal(
                bar, "buy" if cross > 0 else "sell", self._reason(cross > 0), state, vix, sma_fast=fast, sma_slow=slow
            )
        ]

    def signal_bars(self, close: np.ndarray, low: np.ndarray, high: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The crossing bars of one symbol's history and their direction (True: up), over whole arrays.

        One SMA pass per average and one crossing pass: the rule ``decide`` applies bar by bar.
        """
        if len(close) and not (
            np.isfinite(close).all() and (close > 0).all() and (low > 0).all() and (high >= low).all()
        ):
            bad = int(np.argmax(~(np.isfinite(close) & (close > 0) & (low > 0) & (high >= low))))
            raise ConfigError(f"simulate({self.name}): bar {bad}: expected finite positive prices with high >= low")
        sides = crossings(sma(close, self.fast), sma(close, self.slow))
        where = np.flatnonzero(sides)
        return where, sides[where] > 0

    def simulate(self, frame: pd.DataFrame, symbol: str | None = None) -> list[Signal]:
        """The same rule over whole arrays: one SMA pass per average, one crossing pass."""
        symbol, stamps, (open_, high, low, close, _volume), vix = self.frame_inputs(frame, symbol)
        where, up = self.signal_bars(close, low, high)
        fast, slow = sma(close, self.fast), sma(close, self.slow)
        times = stamps.iloc[where].dt.to_pydatetime() if len(where) else []
        closes, fasts, slows, levels = (
            close[where].tolist(),
            fast[where].tolist(),
            slow[where].tolist(),
            (vix[where].tolist() if vix is not None else [None] * len(where)),
        )
        return [
            Signal(
                ts=ts,
                strategy=self.name,
                symbol=symbol,
                side="buy" if is_up else "sell",
                price=Decimal(repr(c)),
                reason=self._reason(is_up),
                context={"vix": None if lv is None or math.isnan(lv) else lv, "sma_fast": f, "sma_slow": s},
            )
            for ts, is_up, c, f, s, lv in zip(times, up.tolist(), closes, fasts, slows, levels)
        ]
