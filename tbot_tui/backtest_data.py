"""Reading the latest backtest's per-day equity for the console's plot.

The backtest engine writes ``daily_summary_backtest.json``; the console accepts
a list of day objects (or an object holding one under ``days``/``daily``), each
with ``date`` and ``equity``. Drawdown is derived from the equity peak, so a
summary without it still plots. A malformed file is one line naming the day
and field, never a crash.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tbot_core.paths import HomePaths
from tbot_tui.view import decimal


@dataclass(frozen=True)
class BacktestSeries:
    dates: list[str] = field(default_factory=list)
    equity: list[Decimal] = field(default_factory=list)
    drawdown: list[Decimal] = field(default_factory=list)  # 0..1, fraction below the running peak
    problem: str = ""

    @property
    def max_drawdown(self) -> Decimal:
        return max(self.drawdown, default=Decimal(0))


def drawdowns(equity: list[Decimal]) -> list[Decimal]:
    out, peak = [], None
    for value in equity:
        peak = value if peak is None or value > peak else peak
        out.append((peak - value) / peak if peak and peak > 0 else Decimal(0))
    return out


def _days(data: Any) -> list[Any] | None:
    if isinstance(data, list):
        return data
    if isinstance(data, dict):
        for key in ("days", "daily"):
            if isinstance(data.get(key), list):
                return data[key]
    return None


def load_backtest(paths: HomePaths, identity: str) -> BacktestSeries:
    path = paths.backtest_daily_summary(identity)
    name = path.name
    try:
        data = json.loads(path.read_bytes())
    except FileNotFoundError:
        return BacktestSeries(problem="no backtest yet (run `tbot backtest` to make one)")
    except (OSError, ValueError):
        return BacktestSeries(problem=f"{name}: not readable JSON")
    days = _days(data)
    if days is None:
        return BacktestSeries(problem=f"{name}: expected a list of days (or an object with 'days')")
    dates, equity = [], []
    for number, day in enumerate(days, start=1):
        value = decimal(day.get("equity")) if isinstance(day, dict) else None
        if value is None:
            return BacktestSeries(problem=f"{name}: day {number}: equity: expected a decimal amount")
        dates.append(str(day.get("date", "")))
        equity.append(value)
    if not equity:
        return BacktestSeries(problem=f"{name}: no days in the summary")
    return BacktestSeries(dates, equity, drawdowns(equity))
