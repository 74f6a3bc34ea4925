"""The Backtest screen lists the home's sweeps and shows the chosen one's heatmap and best runs, read from
the files ``tbot backtest sweep`` writes (written here by the sweep's own writers, with made-up figures)."""

from __future__ import annotations

from textual.widgets import DataTable

from tbot_core.backtest.sweep.outputs import write_json, write_sweep_files
from tbot_core.backtest.sweep.params import ParamSpec
from tbot_core.paths import HomePaths
from tbot_tui.sweep_data import list_sweeps, load_sweep
from tbot_tui.widgets.sweep_heatmap import SweepHeatmap, level

from .conftest import frozen_console, settle
from .console_homes import IDENTITY, build_console_home

SPECS = [ParamSpec("ADX_THRESHOLD", ("20", "25", "30"), True), ParamSpec("ADX_PERIOD", ("10", "14"), True)]


def write_grid_sweep(paths: HomePaths, sweep_id: str, started: str) -> list[dict]:
    rows = []
    for number, (threshold, period) in enumerate((t, p) for t in SPECS[0].values for p in SPECS[1].values):
        value = round(0.001 * number - 0.002, 6)
        rows.append(
            {
                "run_id": f"{number:016x}",
                "segment": "all",
                "start": "2026-01-05",
                "end": "2026-07-07",
                "ADX_THRESHOLD": threshold,
                "ADX_PERIOD": period,
                "objective": value,
                "total_return": f"{value:.6f}",
                "max_drawdown": "-0.010000",
                "trades": 3 + number,
            }
        )
    rows[4]["objective"] = None  # a run without the objective's figure: an empty cell, never the best
    paths.sweep_dir(IDENTITY, sweep_id).mkdir(parents=True)
    write_sweep_files(paths, IDENTITY, sweep_id, SPECS, rows, {"best": None}, heatmap=None, folds=None)
    write_json(
        paths.sweep_meta(IDENTITY, sweep_id),
        {
            "sweep_id": sweep_id,
            "strategy": "mid",
            "params": [{"key": s.key, "values": list(s.values)} for s in SPECS],
            "search": "grid",
            "objective": "return",
            "status": "finished",
            "runs_planned": 6,
            "runs_done": 6,
            "started_utc": started,
        },
    )
    return rows


def write_interrupted_sweep(paths: HomePaths, sweep_id: str, started: str) -> None:
    paths.sweep_dir(IDENTITY, sweep_id).mkdir(parents=True)
    meta = {"sweep_id": sweep_id, "strategy": "close", "params": [], "search": "optuna", "objective": "sharpe"}
    write_json(
        paths.sweep_meta(IDENTITY, sweep_id),
        {**meta, "status": "interrupted", "runs_planned": 40}
        | {
            "runs_done": 7,
            "started_utc": started,
        },
    )


def test_the_reader_lists_sweeps_newest_first_and_builds_the_grid_from_runs_csv(tmp_path):
    paths = HomePaths(tmp_path / "home")
    write_grid_sweep(paths, "mid-0123456789ab", "2026-01-10T10:00:00Z")
    write_interrupted_sweep(paths, "close-ba9876543210", "2026-01-11T09:00:00Z")
    assert [s.sweep_id for s in list_sweeps(paths, IDENTITY)] == ["close-ba9876543210", "mid-0123456789ab"]
    detail = load_sweep(paths, IDENTITY, "mid-0123456789ab")
    assert detail.heatmap is not None and detail.heatmap.row_values == ("20", "25", "30")
    assert detail.heatmap.cells[0] == (-0.002, -0.001) and detail.heatmap.cells[2] == (None, 0.003)
    assert [r["run_id"] for r in detail.top][:2] == [f"{5:016x}", f"{3:016x}"]
    assert load_sweep(paths, IDENTITY, "close-ba9876543210").problem == (
        "close-ba9876543210: interrupted, 7 of 40 runs finished"
    )


def test_heatmap_cells_take_their_third_of_the_range_and_the_best_its_own_class():
    assert [level(v, 0.0, 3.0, 3.0) for v in (0.5, 1.5, 2.5, 3.0, None)] == ["low", "mid", "high", "best", "none"]


async def test_the_backtest_screen_shows_the_sweep_list_heatmap_and_best_runs(tmp_path):
    home = build_console_home(tmp_path / "home", "normal")
    write_grid_sweep(home, "mid-0123456789ab", "2026-01-10T10:00:00Z")
    write_interrupted_sweep(home, "close-ba9876543210", "2026-01-09T09:00:00Z")
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot, groups=("backtest", "backtest-sweep"))
        screen = app.screen
        assert screen.query_one("#sweeps").display
        listing = screen.query_one("#sweep-list", DataTable)
        assert [listing.get_row_at(i)[:2] for i in range(listing.row_count)] == [
            ["mid-0123456789ab", "finished"],
            ["close-ba9876543210", "interrupted"],
        ]
        heatmap = str(screen.query_one("#sweep-heatmap", SweepHeatmap).render())
        assert "return by ADX_THRESHOLD (rows) × ADX_PERIOD (columns)" in heatmap
        lines = heatmap.splitlines()
        assert lines[1].split() == ["10", "14"] and lines[2].split() == ["20", "-0.002", "-0.001"]
        assert lines[4].split() == ["30", "-", "0.003"]
        runs = screen.query_one("#sweep-runs", DataTable)
        assert runs.get_row_at(0)[:4] == ["1", "30", "14", "0.003"] and runs.row_count == 5

        listing.focus()
        await pilot.press("down")
        await settle(pilot, groups=("backtest", "backtest-sweep"))
        problem = str(screen.query_one("#sweep-problem").render())
        assert "close-ba9876543210: interrupted, 7 of 40 runs finished" in problem
        assert not screen.query_one("#sweep-heatmap").display


async def test_a_home_without_sweeps_shows_no_sweep_panel(tmp_path):
    home = build_console_home(tmp_path / "home", "normal")
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("6")
        await settle(pilot)
        assert not app.screen.query_one("#sweeps").display
