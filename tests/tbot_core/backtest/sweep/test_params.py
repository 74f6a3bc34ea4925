"""Invalid sweep parameters: one clear line naming the flag, exit code 2, no traceback, no cluster started."""

from __future__ import annotations

import pytest

from tbot_core.backtest.sweep.params import grid, parse_param, relevant_keys
from tbot_core.cli.main import main
from tests.conftest import run_tbot

WINDOW = ("--start=2026-01-05", "--end=2026-01-06")


@pytest.mark.parametrize(
    ("argv", "expected"),
    [
        (["--strategy=mid", "--param=NO_SUCH_KEY=1,2"], "--param NO_SUCH_KEY: unknown settings key"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=10:20:0"], "step: expected a number > 0"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=30:20:5"], "expected start <= stop"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=a:20:5"], "start: expected a number"),
        (["--strategy=mid", "--param=ADX_PERIOD=10:20:2.5"], "ADX_PERIOD takes whole numbers"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=high,low"], "ADX_THRESHOLD: value 'high'"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=,"], "no values"),
        (["--strategy=mid"], "--param: empty grid"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=20", "--param=adx_threshold=30"], "given twice"),
        (["--strategy=mid", "--param=ADX_FILTER_ENABLED=1:2:1"], "ADX_FILTER_ENABLED is not numeric"),
        (["--strategy=open", "--param=STRAT_CLOSE_EXIT_MINUTES_AFTER_OPEN=5,10"], "does not read this key"),
        (["--strategy=mid", "--no-filters", "--param=MAX_PE_RATIO=20,30"], "does not read this key"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=20", "--search=random"], "--trials: --search random needs"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=20", "--trials=3"], "--trials: only for --search random"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=20", "--objective=pnl"], "--objective: expected sharpe"),
        (["--strategy=mid", "--param=ADX_THRESHOLD=20", "--walk-forward=5"], "--walk-forward: expected TRAIN/TEST"),
        (["--strategy=every", "--param=ADX_THRESHOLD=20"], "--strategy: expected one of"),
    ],
)
def test_a_bad_sweep_flag_is_one_line_naming_it_with_exit_code_2(home_paths, capsys, argv, expected):
    code = main(["backtest", "sweep", *argv, *WINDOW, f"--home={home_paths.root}"])
    err = capsys.readouterr().err
    assert code == 2
    assert err.startswith("error: ") and err.count("\n") == 1 and expected in err, err
    assert not home_paths.sweeps_dir("TBOT_PAPER_01").exists(), "nothing is written before the flags are checked"


def test_the_real_cli_prints_no_traceback_for_a_bad_range():
    result = run_tbot("backtest", "sweep", "--strategy=mid", "--param=ADX_THRESHOLD=10:20:-5", *WINDOW)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        "error: --param ADX_THRESHOLD=10:20:-5: step: expected a number > 0, got -5"
    ]


def test_a_walk_forward_longer_than_the_window_is_one_line(home_paths, capsys):
    code = main(
        ["backtest", "sweep", "--strategy=mid", "--param=ADX_THRESHOLD=20", "--walk-forward=2/2", *WINDOW]
        + [f"--home={home_paths.root}"]
    )
    assert code == 2
    assert "--walk-forward 2/2: the window has 2 trading days; expected at least 4" in capsys.readouterr().err


def test_values_are_kept_as_the_keys_canonical_text_and_repeats_collapse():
    spec = parse_param("adx_threshold=20.0,20,2.5E1", "mid")
    assert spec.key == "ADX_THRESHOLD" and spec.values == ("20", "25")
    assert parse_param("BACKTEST_SLIPPAGE_BPS=0:1:0.25", "sma_cross").values == ("0", "0.25", "0.5", "0.75", "1")
    assert parse_param("ADX_FILTER_ENABLED=yes,no,true", "mid").values == ("true", "false")


def test_a_strategy_reads_its_own_keys_its_filters_keys_and_its_engines():
    mid = relevant_keys("mid")
    assert {"STRAT_MID_FLAT_MINUTES_BEFORE_CLOSE", "ADX_THRESHOLD", "PAPER_SLIPPAGE_BPS", "MAX_RISK_PER_TRADE"} <= mid
    assert "STRAT_CLOSE_EXIT_MINUTES_AFTER_OPEN" not in mid and "VIX_GATEKEEPER_ENABLED" not in mid
    assert "BACKTEST_SLIPPAGE_BPS" not in mid, "the core's strategies fill as the paper broker does"
    assert {"BACKTEST_SLIPPAGE_BPS", "BACKTEST_POSITION_FRACTION"} <= relevant_keys("sma_cross")
    assert {"STRAT_OPEN_ENABLED", "STRAT_CLOSE_EXIT_MINUTES_AFTER_OPEN"} <= relevant_keys("all")
    assert "ADX_FILTER_FATAL" not in relevant_keys("mid", ()), "--no-filters: no gate module's keys"
    assert "ADX_FILTER_FATAL" in relevant_keys("mid", ("ticker_blocklist", "adx_filter"))
    assert "MAX_PE_RATIO" not in relevant_keys("mid", ("ticker_blocklist", "adx_filter"))


def test_the_grid_varies_the_first_key_slowest():
    specs = [parse_param("ADX_THRESHOLD=20,30", "mid"), parse_param("ADX_PERIOD=10:12:1", "mid")]
    assert [tuple(p.values()) for p in grid(specs)] == [
        ("20", "10"),
        ("20", "11"),
        ("20", "12"),
        ("30", "10"),
        ("30", "11"),
        ("30", "12"),
    ]
