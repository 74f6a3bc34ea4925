"""`tbot backtest --engine bar` runs the core's engine (real parts, a real paper home, the real CLI) and writes only its outputs.

The default engine (fast) must give the same fills: test_fast_engine_parity.py; here the CLI's choice of engine.
"""

from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

from tbot_core.paths import HomePaths
from tests.conftest import run_tbot

IDENTITY = "TBOT_PAPER_01"
SAMPLE = ("--start=2026-01-05", "--end=2026-07-07", "--data_source=CSV")


def _listing(paths: HomePaths) -> dict[str, tuple[int, int]]:
    """Every file and folder of the home with its size and mtime, the backtest's outputs folder left out."""
    outputs = paths.backtest_dir(IDENTITY)
    out = {}
    for folder, dirs, files in os.walk(paths.root):
        for name in [*dirs, *files]:
            path = Path(folder) / name
            if path == outputs or outputs in path.parents:
                continue
            info = path.lstat()
            out[str(path.relative_to(paths.root))] = (info.st_size if path.is_file() else 0, info.st_mtime_ns)
    return out


def _backtest(paths: HomePaths, *args: str, scratch: Path | None = None) -> tuple[dict, str]:
    env = {"TMPDIR": str(scratch)} if scratch else None
    result = run_tbot("backtest", *SAMPLE, "--engine=bar", *args, home=paths.root, env=env, timeout=120)
    assert result.returncode == 0, result.stderr
    summary = json.loads(paths.backtest_daily_summary(IDENTITY).read_text())
    return summary, result.stdout + result.stderr


def _trades(paths: HomePaths) -> list[dict]:
    return json.loads(paths.backtest_trades_json(IDENTITY).read_text())["trades"]


def test_all_strategies_trade_through_the_engine_and_only_outputs_are_written(home_paths, tmp_path):
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    before = _listing(home_paths)
    summary, text = _backtest(home_paths, "--strategy=all", scratch=scratch)
    run, metrics = summary["run"], summary["metrics"]
    assert run["engine"] == "bar" and run["strategies"] == ["open", "mid", "close"]
    assert sum(run["orders_per_strategy"].values()) > 0 and metrics["trades"] > 0
    trades = _trades(home_paths)
    assert {t["strategy"] for t in trades} <= {"open", "mid", "close"} and len(trades) == metrics["trades"]
    assert all(t["entry_utc"] == t["entry_signal_utc"] for t in trades)  # the paper broker fills at the signal bar
    # Every strategy's chain as the gate ran it: the blocklist first, then its enabled filters.
    assert run["filters"]["mid"] == ["ticker_blocklist", "adx_filter", "bollinger_confluence", "black_scholes_filter"]
    assert run["filters"]["close"][:2] == ["ticker_blocklist", "vix_gatekeeper"]
    assert "finnhub_fundamental_guard" not in run["filters"]["open"]  # no fundamentals file in a fresh home
    assert _listing(home_paths) == before
    assert not any(home_paths.cache_dir.iterdir())
    assert not any(scratch.iterdir()), "the scratch home was not deleted"
    assert "trades" in text and "bars/s" in text


def test_a_filter_that_blocks_every_entry_is_credited_with_the_blocks(home_paths, tmp_path):
    config = tmp_path / ".env_bot.test"
    config.write_text("ADX_THRESHOLD=0\n")  # ADX is never <= 0: the ADX filter blocks every mid entry it sees
    on, _ = _backtest(home_paths, "--strategy=mid", f"--config={config}", "--filters=adx_filter")
    off, _ = _backtest(home_paths, "--strategy=mid", f"--config={config}", "--no-filters")
    assert on["run"]["strategies"] == off["run"]["strategies"] == ["mid"]
    assert on["run"]["filters"] == {"mid": ["ticker_blocklist", "adx_filter"]}
    assert off["run"]["filters"] == {"mid": ["ticker_blocklist"]}
    blocked = on["run"]["blocks_per_strategy"]["mid"].get("adx_filter", 0)
    assert blocked > 0 and on["metrics"]["blocks_per_filter"]["adx_filter"] == blocked
    assert "adx_filter" not in off["run"]["blocks_per_strategy"]["mid"]
    assert on["run"]["orders_per_strategy"]["mid"] == 0 < off["run"]["orders_per_strategy"]["mid"]
    assert on["metrics"]["trades"] == 0 < off["metrics"]["trades"]


def test_filters_and_config_change_the_result(home_paths):
    live, _ = _backtest(home_paths, "--strategy=all")
    live_qty = max(t["qty"] for t in _trades(home_paths))
    bare, _ = _backtest(home_paths, "--strategy=all", "--no-filters")
    assert live["run"]["filters"]["mid"] != bare["run"]["filters"]["mid"] == ["ticker_blocklist"]
    assert {"adx_filter", "bollinger_confluence"} & set(live["metrics"]["blocks_per_filter"])
    assert not {"adx_filter", "bollinger_confluence"} & set(bare["metrics"]["blocks_per_filter"])
    home_paths.test_env.write_text("PAPER_STARTING_CASH=20000.00\n")
    small, _ = _backtest(home_paths, "--strategy=all", f"--config={home_paths.test_env}")
    assert small["run"]["fill_model"]["starting_cash"] == "20000.00"
    assert small["metrics"]["final_equity"] != live["metrics"]["final_equity"]
    assert max(t["qty"] for t in _trades(home_paths)) < live_qty  # the risk bot sizes from the smaller equity


def test_one_strategy_runs_alone_and_sharpe_needs_twenty_days(home_paths):
    summary, text = _backtest(home_paths, "--strategy=open")
    assert summary["run"]["strategies"] == ["open"] and set(summary["run"]["filters"]) == {"open"}
    assert summary["metrics"]["days"] == 3 and summary["metrics"]["sharpe_annualized"] is None
    assert "Sharpe (annualized)  n/a (3 days < 20)" in text


@pytest.mark.parametrize("strategy", ["sma_cross", "nope"])
def test_a_strategy_the_core_does_not_run_is_refused_by_the_bar_engine(home_paths, strategy):
    result = run_tbot("backtest", *SAMPLE, f"--strategy={strategy}", "--engine=bar", home=home_paths.root)
    assert result.returncode != 0 and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "--strategy" in errors[0] and "--engine fast" in errors[0], result.stderr


def test_an_unknown_strategy_or_engine_is_refused_with_one_line(home_paths):
    for flags in (("--strategy=nope",), ("--strategy=all", "--engine=turbo")):
        result = run_tbot("backtest", *SAMPLE, *flags, home=home_paths.root)
        assert result.returncode != 0 and "Traceback" not in result.stderr
        errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
        assert len(errors) == 1 and flags[-1].split("=")[0] in errors[0], result.stderr


def _fills(paths: HomePaths) -> list[dict[str, str]]:
    """The fills file without its ids (the paper broker's are random; the fast engine's are numbered)."""
    with open(paths.backtest_dir(IDENTITY) / "fill_history_backtest.csv", newline="") as handle:
        return [{k: v for k, v in row.items() if k != "fill_id"} for row in csv.DictReader(handle)]


def test_the_default_engine_is_fast_and_live_is_an_alias_of_bar_with_the_same_fills(home_paths):
    fast, text = _backtest_default(home_paths)
    fast_fills = _fills(home_paths)
    bar, _ = _backtest(home_paths, "--strategy=all")
    bar_fills = _fills(home_paths)
    alias, _ = _backtest(home_paths, "--strategy=all", "--engine=live")
    assert (fast["run"]["engine"], bar["run"]["engine"], alias["run"]["engine"]) == ("fast", "bar", "bar")
    assert fast_fills == bar_fills == _fills(home_paths) and len(fast_fills) > 0
    for key in ("final_cash", "final_equity", "trades", "blocks_per_filter"):
        assert fast["metrics"][key] == bar["metrics"][key], key
    for key in ("signals_per_strategy", "orders_per_strategy", "blocks_per_strategy", "filters"):
        assert fast["run"][key] == bar["run"][key], key
    assert "fast engine" in text


def _backtest_default(paths: HomePaths) -> tuple[dict, str]:
    result = run_tbot("backtest", *SAMPLE, "--strategy=all", home=paths.root, timeout=120)
    assert result.returncode == 0, result.stderr
    return json.loads(paths.backtest_daily_summary(IDENTITY).read_text()), result.stdout + result.stderr
