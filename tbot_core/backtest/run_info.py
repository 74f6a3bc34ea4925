"""What an engine run hands the backtest's reports, whichever engine made it (bar or fast)."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from tbot_core.backtest.portfolio import SimulationResult
from tbot_core.brokers.base import Fill
from tbot_core.config import Settings


@dataclass
class EngineRun:
    simulation: SimulationResult
    fills: list[Fill]  # the paper fills, in the order they were booked (fill_history_backtest.csv)
    starting_cash: Decimal
    strategies: list[str]
    filters: dict[str, list[str]]  # strategy -> the gate modules its signals went through, in order
    signals: dict[str, int]  # strategy -> signals decided by the gate (flat sells never reach it)
    blocks: dict[str, dict[str, int]]  # strategy -> module (gate module, risk_bot, kill_switch) -> blocked
    orders: dict[str, int]  # strategy -> orders the paper broker accepted or rejected
    flat_sells: int
    kill_switch: dict[str, Any]
    fill_model: dict[str, str]
    bars: int
    seconds: float


def paper_fill_model(settings: Settings) -> dict[str, str]:
    """How both engines fill: the paper broker's rule, as the run's outputs describe it."""
    return {
        "rule": "the paper broker: market orders fill at the signal bar's close (the engine's mark), long only, "
        "whole shares sized by the risk bot",
        "starting_cash": str(settings.paper_starting_cash),
        "slippage_bps": str(settings.paper_slippage_bps),
        "commission_per_share": str(settings.paper_commission_per_share),
        "commission_min": str(settings.paper_commission_min),
    }


@dataclass
class BacktestResult:
    simulation: SimulationResult
    metrics: dict[str, object]
    blocks: dict[str, int]
    signals: int
    bars: int
    seconds: float
    run: EngineRun | None = None  # the engine's account of the run (None on the reference path)
