"""Backtest output files (format in docs/backtest.md).

Everything is rendered in memory first and each file is replaced atomically,
so a failed run leaves the previous outputs untouched and never a partial set.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

import numpy as np

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.metrics import DailySeries, trade_seconds
from tbot_core.backtest.portfolio import SimulationResult, Trade
from tbot_core.brokers.base import Fill
from tbot_core.fsutil import atomic_write_text
from tbot_core.money import canonical
from tbot_core.paths import HomePaths
from tbot_core.timeutil import iso_z

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
# One row per fill, oldest first; the same fields as `tbot ledger fills` plus the strategy, so a backtest's
# fills can be set beside the core's.
FILLS_CSV = "fill_history_backtest.csv"
FILL_COLUMNS = ("fill_id", "time_utc", "strategy", "symbol", "side", "qty", "price", "fee")


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


def broker_fill_rows(fills: list[Fill]) -> list[dict[str, Any]]:
    """The live engine's fills as its paper broker booked them (fitid, time to the microsecond, exact money)."""
    return [
        {
            "fill_id": f.fitid,
            "time_utc": iso_z(f.timestamp_utc),
            "strategy": f.strategy,
            "symbol": f.symbol,
            "side": f.side,
            "qty": canonical(f.qty),
            "price": str(f.price),
            "fee": str(f.fee),
        }
        for f in fills
    ]


def trade_fill_rows(trades: Sequence[Trade], bars: dict[str, SymbolBars]) -> list[dict[str, Any]]:
    """The fast path's fills: each trade's entry, and its exit once closed (``<trade_id>-entry`` / ``-exit``)."""
    rows: list[tuple[np.datetime64, int, dict[str, Any]]] = []
    for t in trades:
        ts = bars[t.symbol].ts
        legs = [("entry", "buy", t.entry_bar, t.entry_price, t.entry_commission)]
        if t.exit_bar is not None and t.exit_price is not None:
            legs.append(("exit", "sell", t.exit_bar, t.exit_price, t.exit_commission))
        for name, side, bar, price, fee in legs:
            row = {
                "fill_id": f"{t.trade_id}-{name}",
                "time_utc": f"{np.datetime_as_string(ts[bar], unit='us')}Z",
                "strategy": t.strategy,
                "symbol": t.symbol,
                "side": side,
                "qty": str(t.qty),
                "price": str(price),
                "fee": str(fee),
            }
            rows.append((ts[bar], len(rows), row))
    rows.sort(key=lambda item: (item[0], item[1]))
    return [row for _, _, row in rows]


def render_csv(columns: tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return buf.getvalue()


def render_trades_csv(rows: list[dict[str, Any]]) -> str:
    return render_csv(TRADE_COLUMNS, rows)


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
    fills: list[dict[str, Any]],
    run: dict[str, Any],
    metrics: dict[str, Any],
    days: list[dict[str, Any]],
) -> Path:
    folder = paths.backtest_dir(identity)
    folder.mkdir(parents=True, exist_ok=True)
    files = {
        paths.backtest_trades_csv(identity): render_trades_csv(rows),
        folder / FILLS_CSV: render_csv(FILL_COLUMNS, fills),
        paths.backtest_trades_json(identity): json.dumps({"columns": list(TRADE_COLUMNS), "trades": rows}, indent=1),
        paths.backtest_daily_summary(identity): json.dumps({"run": run, "metrics": metrics, "days": days}, indent=1),
    }
    for path, text in files.items():
        atomic_write_text(path, text, mode=0o644)
    return folder
