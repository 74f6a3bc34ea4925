"""Parity: the paper core and ``tbot backtest --strategy=all`` (the default, fast engine) trade the sample data alike.

Two identical fresh paper homes (``tbot init`` plus the same plaintext overlay, REPLAY_SPEED=0).  On
the first a real ``tbot core`` subprocess replays the sample data to the feed's end and books its
fills in the ledger; on the second ``tbot backtest --strategy=all`` runs over the sample data's first
to last day.  The fills (symbol, side, quantity, price, time, strategy) and the final cash must be
the same: the core's as its books hold them (``tbot ledger fills --csv``, ``tbot ledger balance``)
and as core.db holds them, the backtest's from its ``fill_history_backtest.csv`` and summary.
"""

from __future__ import annotations

import csv
import io
import json
from decimal import Decimal
from pathlib import Path

from tbot_core.paths import HomePaths
from tests.conftest import run_tbot
from tests.tbot_core.ledger.sample_core import core_rows, fresh_home, paper_fills, run_core_over_sample, sample_span

IDENTITY = "TBOT_PAPER_01"
CASH_ACCOUNT = "1000"  # the default chart's cash role


def _csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def _key(row: dict[str, str]) -> tuple[str, str, str, Decimal, Decimal, str]:
    return (row["time_utc"], row["symbol"], row["side"], Decimal(row["qty"]), Decimal(row["price"]), row["strategy"])


def _ledger_cash(home: Path) -> Decimal:
    result = run_tbot("ledger", "balance", home=home)
    assert result.returncode == 0, result.stdout + result.stderr
    row = next(line.split() for line in result.stdout.splitlines() if line.startswith(CASH_ACCOUNT + " "))
    return Decimal(row[-1])


def _backtest(paths: HomePaths, scratch: Path) -> tuple[list[dict[str, str]], dict]:
    _, first, last = sample_span(paths)
    result = run_tbot(
        "backtest",
        "--strategy=all",
        f"--start={first[:10]}",
        f"--end={last[:10]}",
        "--data_source=CSV",
        home=paths.root,
        env={"TMPDIR": str(scratch)},
        timeout=180,
    )
    assert result.returncode == 0, result.stderr
    folder = paths.backtest_dir(IDENTITY)
    fills = _csv((folder / "fill_history_backtest.csv").read_text())
    return fills, json.loads(paths.backtest_daily_summary(IDENTITY).read_text())


def test_the_paper_core_and_the_backtest_make_the_same_fills_and_end_with_the_same_cash(tmp_path):
    core_home = fresh_home(tmp_path / "core")
    test_home = fresh_home(tmp_path / "backtest")
    assert core_home.plaintext_env.read_text() == test_home.plaintext_env.read_text()
    scratch = tmp_path / "scratch"
    scratch.mkdir()

    run_core_over_sample(core_home)
    result = run_tbot("ledger", "fills", "--csv", home=core_home.root)
    assert result.returncode == 0, result.stderr
    core_fills = _csv(result.stdout)
    (core_cash_cents,) = core_rows(core_home, "SELECT cash_cents FROM paper_account WHERE id = 1")[0]

    test_fills, summary = _backtest(test_home, scratch)

    assert len(core_fills) == len(paper_fills(core_home)) > 0  # the books hold every fill the core made
    assert len(test_fills) == len(core_fills), (len(test_fills), len(core_fills))
    assert sorted(map(_key, test_fills)) == sorted(map(_key, core_fills))
    assert [r["fee"] for r in sorted(test_fills, key=_key)] == [r["fee"] for r in sorted(core_fills, key=_key)]
    final_cash = Decimal(summary["metrics"]["final_cash"])
    assert final_cash == Decimal(core_cash_cents) / 100 == _ledger_cash(core_home.root)
    assert summary["run"]["strategies"] == ["open", "mid", "close"]
