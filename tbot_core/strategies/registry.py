"""The explicit list of strategies (no discovery by scanning folders)."""

from __future__ import annotations

from tbot_core.config import Settings
from tbot_core.strategies.base import Strategy
from tbot_core.strategies.close import EndOfDayMomentum
from tbot_core.strategies.market_state import MarketState
from tbot_core.strategies.mid import MidSessionReversion
from tbot_core.strategies.open import OpeningRangeBreakout
from tbot_core.strategies.sma_cross import SmaCross

STRATEGIES: dict[str, type[Strategy]] = {
    "open": OpeningRangeBreakout,
    "mid": MidSessionReversion,
    "close": EndOfDayMomentum,
    "sma_cross": SmaCross,
}

_TOGGLES = {"open": "strat_open_enabled", "mid": "strat_mid_enabled", "close": "strat_close_enabled"}


def build_strategies(settings: Settings, market: MarketState | None = None) -> list[Strategy]:
    """The session strategies the config enables, in trading-day order, sharing one market state.

    Sharing means each bar updates each symbol's indicators once, not once per strategy.
    """
    market = market if market is not None else MarketState(settings)
    return [STRATEGIES[name](settings, market=market) for name, key in _TOGGLES.items() if getattr(settings, key)]
