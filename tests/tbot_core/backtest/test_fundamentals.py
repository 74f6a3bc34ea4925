"""The fundamental guard in a backtest reads data/market/fundamentals.csv as of each bar, never Finnhub."""

from __future__ import annotations

import json
import socket

import pytest

from tbot_core.backtest.backtest_engine import main
from tbot_core.backtest.fundamentals import PointInTimeFundamentals, load_fundamentals
from tbot_core.errors import ConfigError, TbotError
from tests.conftest import run_tbot

IDENTITY = "TBOT_PAPER_01"
SAMPLE = ("--start=2026-01-05", "--end=2026-07-07", "--data_source=CSV")
GOOD_ROW = "{day},{sym},20.5,0.8,2000000000000"


def _write(paths, *rows: str) -> None:
    paths.fundamentals_history.write_text("date,symbol,pe,debt_equity,market_cap\n" + "\n".join(rows) + "\n")


def test_a_row_is_only_seen_from_its_date_on(home_paths):
    # Known from 2026-01-06: every entry on 2026-01-05 finds no row yet and is blocked (fail closed, as live).
    _write(home_paths, *(GOOD_ROW.format(day="2026-01-06", sym=s) for s in ("AAPL", "MSFT", "NVDA", "SPY")))
    home_paths.test_env.write_text("FUNDAMENTAL_GUARD_ENABLED=true\n")
    result = run_tbot(
        "backtest", *SAMPLE, "--strategy=all", f"--config={home_paths.test_env}", home=home_paths.root, timeout=120
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(home_paths.backtest_daily_summary(IDENTITY).read_text())
    run = summary["run"]
    assert run["fundamentals"].startswith("data/market/fundamentals.csv")
    assert all("finnhub_fundamental_guard" in chain for chain in run["filters"].values())
    assert summary["metrics"]["blocks_per_filter"].get("finnhub_fundamental_guard", 0) > 0
    trades = json.loads(home_paths.backtest_trades_json(IDENTITY).read_text())["trades"]
    assert trades and all(t["entry_utc"] >= "2026-01-06" for t in trades)
    assert not any(home_paths.cache_dir.iterdir())


def test_thresholds_apply_to_the_dated_figures(home_paths):
    _write(home_paths, *(f"2026-01-01,{s},95.0,0.8,2000000000000" for s in ("AAPL", "MSFT", "NVDA", "SPY")))
    home_paths.test_env.write_text("FUNDAMENTAL_GUARD_ENABLED=true\nMAX_PE_RATIO=40\n")
    result = run_tbot(
        "backtest", *SAMPLE, "--strategy=open", f"--config={home_paths.test_env}", home=home_paths.root, timeout=120
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(home_paths.backtest_daily_summary(IDENTITY).read_text())
    assert summary["metrics"]["trades"] == 0
    assert summary["run"]["blocks_per_strategy"]["open"]["finnhub_fundamental_guard"] > 0


def test_without_the_file_the_guard_is_off_with_a_notice(home_paths):
    home_paths.test_env.write_text("FUNDAMENTAL_GUARD_ENABLED=true\n")
    result = run_tbot(
        "backtest", *SAMPLE, "--strategy=open", f"--config={home_paths.test_env}", home=home_paths.root, timeout=120
    )
    assert result.returncode == 0, result.stderr
    assert "notice: data/market/fundamentals.csv not found: finnhub_fundamental_guard is off" in result.stderr
    summary = json.loads(home_paths.backtest_daily_summary(IDENTITY).read_text())
    assert summary["run"]["filters"]["open"] == ["ticker_blocklist", "black_scholes_filter"]


BAD = {
    "header": ("date,symbol,pe\n2026-01-02,AAPL,1\n", ":1: expected header"),
    "date": (
        "date,symbol,pe,debt_equity,market_cap\n2026-01-02,AAPL,1,1,1\n2026-13-02,AAPL,1,1,1\n",
        ":3: field 'date'",
    ),
    "number": ("date,symbol,pe,debt_equity,market_cap\n2026-01-02,AAPL,cheap,1,1\n", ":2: field 'pe'"),
    "nan": ("date,symbol,pe,debt_equity,market_cap\n2026-01-02,AAPL,1,nan,1\n", ":2: field 'debt_equity'"),
    "cap": ("date,symbol,pe,debt_equity,market_cap\n2026-01-02,AAPL,1,1,-5\n", ":2: field 'market_cap'"),
    "symbol": ("date,symbol,pe,debt_equity,market_cap\n2026-01-02, ,1,1,1\n", ":2: field 'symbol'"),
    "twice": (
        "date,symbol,pe,debt_equity,market_cap\n2026-01-02,AAPL,1,1,1\n2026-01-02,aapl,2,1,1\n",
        ":3: field 'date'",
    ),
    "fields": ("date,symbol,pe,debt_equity,market_cap\n2026-01-02,AAPL,1,1\n", ":2: expected 5 fields"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_a_bad_file_is_one_line_naming_file_line_and_field(case, tmp_path):
    path = tmp_path / "fundamentals.csv"
    path.write_text(BAD[case][0])
    with pytest.raises(ConfigError) as err:
        load_fundamentals(path)
    message = err.value.one_line()
    assert "\n" not in message and message.startswith("data/market/fundamentals.csv") and BAD[case][1] in message


def test_the_cli_refuses_a_bad_file_before_writing_outputs(home_paths):
    home_paths.fundamentals_history.write_text(BAD["number"][0])
    result = run_tbot("backtest", *SAMPLE, "--strategy=all", home=home_paths.root)
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert result.returncode != 0 and len(errors) == 1 and "fundamentals.csv:2: field 'pe'" in errors[0]
    assert not any(home_paths.backtest_dir(IDENTITY).iterdir())


def test_lookup_is_point_in_time(tmp_path):
    path = tmp_path / "fundamentals.csv"
    path.write_text("date,symbol,pe,debt_equity,market_cap\n2026-03-01,AAPL,30,1,5\n2026-01-02,AAPL,20,,5\n")
    source = PointInTimeFundamentals(path)
    source.today = lambda: "2026-02-15T15:00:00.000000Z"
    facts = source.lookup("AAPL")
    assert (facts.pe, facts.debt_equity, facts.as_of) == (20.0, None, "2026-01-02")
    source.today = lambda: "2026-03-01T14:30:00Z"
    assert source.lookup("AAPL").pe == 30.0
    source.today = lambda: "2026-01-01T20:00:00Z"
    with pytest.raises(TbotError, match="no row for AAPL dated on or before 2026-01-01"):
        source.lookup("AAPL")


def test_the_live_backtest_opens_no_network_connection(home_paths, monkeypatch, capsys):
    """In-process, with every socket connect refused: a Finnhub call or an alert would fail the run."""
    _write(home_paths, *(GOOD_ROW.format(day="2026-01-01", sym=s) for s in ("AAPL", "MSFT", "NVDA", "SPY")))
    home_paths.test_env.write_text("FUNDAMENTAL_GUARD_ENABLED=true\nNOTIFY_ON_CRITICAL=true\n")
    tried: list[object] = []

    def refuse(self, address):
        tried.append(address)
        raise OSError("network refused in this test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket.socket, "connect_ex", refuse)
    code = main([*SAMPLE, "--strategy=all", f"--config={home_paths.test_env}", f"--home={home_paths.root}"])
    assert code == 0, capsys.readouterr().err
    assert tried == []
    summary = json.loads(home_paths.backtest_daily_summary(IDENTITY).read_text())
    assert summary["metrics"]["trades"] > 0
