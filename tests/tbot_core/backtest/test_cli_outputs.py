"""`tbot backtest` on the home's sample data writes the documented outputs, a plot, and a closing speed line."""

from __future__ import annotations

import csv
import json

from tbot_core.backtest.outputs import TRADE_COLUMNS
from tests.conftest import run_tbot


def test_backtest_writes_trades_daily_summary_and_plot(home_paths):
    result = run_tbot(
        "backtest",
        "--strategy=sma_cross",
        "--engine=fast",
        "--start=2026-01-05",
        "--end=2026-07-07",
        "--data_source=CSV",
        "--no-filters",
        "--plot",
        home=home_paths.root,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1].endswith("bars/s)")
    folder = home_paths.backtest_dir("TBOT_PAPER_01")
    assert home_paths.backtest_daily_summary("TBOT_PAPER_01").parent == folder
    with open(home_paths.backtest_trades_csv("TBOT_PAPER_01"), newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert rows and tuple(rows[0]) == TRADE_COLUMNS
    as_json = json.loads(home_paths.backtest_trades_json("TBOT_PAPER_01").read_text())
    assert as_json["trades"][0]["trade_id"] == 1 and len(as_json["trades"]) == len(rows)
    summary = json.loads(home_paths.backtest_daily_summary("TBOT_PAPER_01").read_text())
    assert summary["run"]["strategy"] == "sma_cross" and summary["run"]["symbols"] == [
        "AAPL",
        "AMZN",
        "GOOGL",
        "META",
        "SPY",
    ]
    assert [d["date"] for d in summary["days"]] == ["2026-01-05", "2026-01-06", "2026-07-07"]
    for key in (
        "win_rate",
        "max_drawdown",
        "avg_trade_duration_seconds",
        "avg_trade_pnl",
        "sharpe_annualized",
        "total_return",
        "blocks_per_filter",
    ):
        assert key in summary["metrics"]
    png = home_paths.backtest_plot("TBOT_PAPER_01").read_bytes()
    assert png[:8] == b"\x89PNG\r\n\x1a\n" and len(png) > 10_000


def test_backtest_writes_no_database_rows(home_paths):
    before = home_paths.audit_db.stat().st_size, sorted(p.name for p in home_paths.db_dir.iterdir())
    result = run_tbot(
        "backtest",
        "--strategy=open",
        "--start=2026-01-05",
        "--end=2026-01-06",
        "--data_source=CSV",
        "--no-filters",
        home=home_paths.root,
    )
    assert result.returncode == 0, result.stderr
    assert (home_paths.audit_db.stat().st_size, sorted(p.name for p in home_paths.db_dir.iterdir())) == before
