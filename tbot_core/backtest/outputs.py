"""Backtest output files (format in docs/backtest.md).

Everything is rendered in memory first and each file is replaced atomically,
so a failed run leaves the previous outputs untouched and never a partial set.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.metrics import DailySeries, trade_seconds
from tbot_core.backtest.portfolio import SimulationResult, Trade
from tbot_core.fsutil import atomic_write_text
from tbot_core.paths import HomePaths

TRADE_COLUMNS = (
    "trade_id",
    "strategy",
    "symbol",
    "side",
    "entry_signal_utc",
    "entry_utc",
    "entry_bar",
    "entry_price",
    "qty",
    "exit_signal_utc",
    "exit_utc",
    "exit_bar",
    "exit_price",
    "commission",
    "pnl",
    "return_pct",
    "duration_bars",
    "duration_seconds",
    "status",
)


def _utc(ts: np.datetime64 | None) -> str:
    return "" if ts is None else f"{np.datetime_as_string(ts, unit='s')}Z"


def trade_row(trade: Trade, bars: dict[str, SymbolBars]) -> dict[str, Any]:
    ts = bars[trade.symbol].ts
    notional = trade.entry_price * trade.qty
    seconds = trade_seconds(bars, trade)
    return {
        "trade_id": trade.trade_id,
        "strategy": trade.strategy,
        "symbol": trade.symbol,
        "side": "long",
        "entry_signal_utc": _utc(ts[trade.entry_signal_bar]),
        "entry_utc": _utc(ts[trade.entry_bar]),
        "entry_bar": trade.entry_bar,
        "entry_price": str(trade.entry_price),
        "qty": trade.qty,
        "exit_signal_utc": _utc(ts[trade.exit_signal_bar]) if trade.exit_signal_bar is not None else "",
        "exit_utc": _utc(ts[trade.exit_bar]) if trade.exit_bar is not None else "",
        "exit_bar": trade.exit_bar if trade.exit_bar is not None else "",
        "exit_price": str(trade.exit_price) if trade.exit_price is not None else "",
        "commission": str(trade.entry_commission + trade.exit_commission),
        "pnl": str(trade.pnl.quantize(Decimal("0.01"))),
        "return_pct": f"{(trade.pnl / notional * 100):.4f}" if notional else "",
        "duration_bars": (trade.exit_bar - trade.entry_bar) if trade.exit_bar is not None else "",
        "duration_seconds": seconds if seconds is not None else "",
        "status": trade.status,
    }


def render_trades_csv(rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=TRADE_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def daily_rows(daily: DailySeries, result: SimulationResult, bars: dict[str, SymbolBars]) -> list[dict[str, Any]]:
    closed_per_day: dict[str, list[Decimal]] = {}
    for trade in result.trades:
        if trade.exit_bar is not None:
            day = str(bars[trade.symbol].ts[trade.exit_bar].astype("datetime64[D]"))
            closed_per_day.setdefault(day, []).append(trade.pnl)
    return [
        {
            "date": day,
            "equity": f"{eq:.2f}",
            "return": f"{ret:.8f}",
            "drawdown": f"{dd:.8f}",
            "trades_closed": len(closed_per_day.get(day, [])),
            "pnl": str(sum(closed_per_day.get(day, []), Decimal(0)).quantize(Decimal("0.01"))),
        }
        for day, eq, ret, dd in zip(daily.dates, daily.equity, daily.returns, daily.drawdown)
    ]


def write_outputs(
    paths: HomePaths,
    identity: str,
    *,
    rows: list[dict[str, Any]],
    run: dict[str, Any],
    metrics: dict[str, Any],
    days: list[dict[str, Any]],
) -> Path:
    folder = paths.backtest_dir(identity)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        paths.backtest_trades_csv(identity): render_trades_csv(rows),
        paths.backtest_trades_json(identity): json.dumps({"columns": list(TRADE_COLUMNS), "trades": rows}, indent=1),
        paths.backtest_daily_summary(identity): json.dumps({"run": run, "metrics": metrics, "days": days}, indent=1),
    }
    for path, text in files.items():
        atomic_write_text(path, text, mode=0o644)
    return folder
