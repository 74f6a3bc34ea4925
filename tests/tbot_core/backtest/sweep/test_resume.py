"""Ctrl-C keeps the finished runs (each is in the journal the moment it finishes); ``--resume`` skips them
and the sweep ends with the same figures as one that was never interrupted."""

from __future__ import annotations

import json

import pytest

from tbot_core.backtest.sweep.driver import SweepInterrupted
from tbot_core.backtest.sweep.journal import Journal
from tests.tbot_core.backtest.sweep.conftest import FAST, IDENTITY, figures, read_runs, sweep

GRID = ("--param=BACKTEST_POSITION_FRACTION=0.1:0.4:0.1", "--param=BACKTEST_SLIPPAGE_BPS=0,5")


class CtrlCAfter:
    """The operator pressing Ctrl-C once ``n`` runs have finished."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.seen: list[str] = []

    def __call__(self, row):
        self.seen.append(row["run_id"])
        if len(self.seen) == self.n:
            raise KeyboardInterrupt


def test_an_interrupted_sweep_keeps_finished_runs_and_resume_skips_them(home_paths, scheduler):
    argv = (*FAST, *GRID, f"--scheduler={scheduler}")
    ctrl_c = CtrlCAfter(3)
    with pytest.raises(SweepInterrupted) as interrupted:
        sweep(home_paths, *argv, observer=ctrl_c)
    sid = next(iter(home_paths.sweep_ids(IDENTITY)))
    kept = Journal(home_paths.sweep_journal(IDENTITY, sid)).read()
    assert set(ctrl_c.seen) <= set(kept) and interrupted.value.kept == len(kept) >= 3
    meta = json.loads(home_paths.sweep_meta(IDENTITY, sid).read_text())
    assert meta["status"] == "interrupted" and meta["runs_done"] == len(kept)

    resumed = sweep(home_paths, *argv, "--resume")
    assert resumed.sweep_id == sid
    assert resumed.reused == len(kept) and resumed.ran == 8 - len(kept)
    rows = read_runs(home_paths.sweep_runs_csv(IDENTITY, sid))
    assert {r["run_id"]: r["final_equity"] for r in rows if r["run_id"] in kept} == {
        rid: row["final_equity"] for rid, row in kept.items()
    }

    fresh = sweep(home_paths, *argv)  # without --resume: the journal starts over and every run runs
    assert fresh.ran == 8 and fresh.reused == 0
    assert figures(read_runs(home_paths.sweep_runs_csv(IDENTITY, sid))) == figures(rows)


def test_a_torn_last_journal_line_is_run_again_not_trusted(tmp_path):
    journal = Journal(tmp_path / "journal.jsonl")
    journal.append({"run_id": "a", "total_return": "0.01"})
    journal.append({"run_id": "b", "total_return": "0.02"})
    with open(journal.path, "ab") as handle:
        handle.write(b'{"run_id": "c", "total_ret')
    assert set(journal.read()) == {"a", "b"}
    assert set(journal.resume()) == {"a", "b"}
    journal.append({"run_id": "d"})
    assert set(journal.read()) == {"a", "b", "d"}, "the torn line was cut, so the next run's line is whole"
