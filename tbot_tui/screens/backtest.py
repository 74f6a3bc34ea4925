"""The latest backtest's equity curve and drawdown, drawn as text columns, and the home's parameter sweeps:
the list, the chosen sweep's objective heatmap (two-key grids) and its best runs (or walk-forward folds).

Everything is read from files under the output folder in worker threads; the sweep part stays hidden
while the home has no sweep, so the screen of a home without one is what it always was.
"""

from __future__ import annotations

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Static

from tbot_core.errors import TbotError
from tbot_core.paths import HomePaths
from tbot_tui.backtest_data import BacktestSeries, load_backtest
from tbot_tui.screens.base import ConsoleScreen
from tbot_tui.sweep_data import SweepDetail, SweepListing, list_sweeps, load_sweep
from tbot_tui.widgets.column_plot import ColumnPlot
from tbot_tui.widgets.sweep_heatmap import SweepHeatmap
from tbot_tui.widgets.sweep_list import SweepList
from tbot_tui.widgets.sweep_runs import SweepRuns


def latest_backtest_identity(paths: HomePaths) -> str | None:
    """Without a core's state.json, the identity whose backtest summary is the newest (no vault access)."""
    found = [
        (paths.backtest_daily_summary(name).stat().st_mtime, name)
        for name in paths.output_identities()
        if paths.backtest_daily_summary(name).exists()
    ]
    return max(found)[1] if found else None


def sweep_identity(paths: HomePaths, preferred: str | None) -> str | None:
    """The identity whose sweeps are listed: the core's (or the latest backtest's), else the first that has any."""
    if preferred and paths.sweep_ids(preferred):
        return preferred
    return next((name for name in paths.output_identities() if paths.sweep_ids(name)), preferred)


class BacktestScreen(ConsoleScreen):
    _sweep_identity: str | None = None
    _shown_sweep: str | None = None

    def compose_body(self) -> ComposeResult:
        yield Static("Latest backtest", id="backtest-title", classes="screen-title")
        yield Static("Equity", classes="plot-title")
        yield ColumnPlot(id="backtest-equity", classes="plot")
        yield Static("Drawdown (% below peak)", classes="plot-title")
        yield ColumnPlot(id="backtest-drawdown", classes="plot")
        with Vertical(id="sweeps"):
            yield Static("Sweeps", id="sweeps-title")
            yield SweepList(id="sweep-list", cursor_type="row")
            yield Static("", id="sweep-problem", classes="sweep-problem")
            with Horizontal(id="sweep-detail"):
                yield SweepHeatmap(id="sweep-heatmap")
                yield SweepRuns(id="sweep-runs", cursor_type="row")

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="backtest")
    def load(self) -> None:
        read = self.app.state_read
        ident = read.state.identity if read and read.state else None
        identity = ident.bot_identity if ident is not None else None
        paths = self.app.paths
        try:
            identity = identity or latest_backtest_identity(paths)
            series = (
                load_backtest(paths, str(identity))
                if identity
                else BacktestSeries(problem="no backtest yet (run `tbot backtest` to make one)")
            )
        except (TbotError, ValueError) as exc:
            series = BacktestSeries(problem=exc.one_line() if isinstance(exc, TbotError) else str(exc))
        sweeps: list[SweepListing] = []
        detail = None
        try:
            owner = sweep_identity(paths, identity)
            sweeps = list_sweeps(paths, owner) if owner else []
            chosen = self._shown_sweep if any(s.sweep_id == self._shown_sweep for s in sweeps) else None
            if sweeps:
                detail = load_sweep(paths, str(owner), chosen or sweeps[0].sweep_id)
        except (OSError, ValueError):
            owner, sweeps = None, []
        self.app.call_from_thread(self._show, series)
        self.app.call_from_thread(self._show_sweeps, owner, sweeps, detail)

    def _show(self, series: BacktestSeries) -> None:
        title = self.query_one("#backtest-title", Static)
        has_data = not series.problem
        for plot in self.query(ColumnPlot):
            plot.display = has_data
        for label in self.query(".plot-title"):
            label.display = has_data
        if not has_data:
            title.update(f"Latest backtest: {series.problem}")
            return
        first, last = series.equity[0], series.equity[-1]
        change = (last - first) / first * 100 if first else 0
        title.update(
            f"Latest backtest {series.dates[0]} → {series.dates[-1]}: {len(series.equity)} days, equity "
            f"{first:,.2f} → {last:,.2f} ({change:+.2f}%), max drawdown {series.max_drawdown * 100:.2f}%"
        )
        self.query_one("#backtest-equity", ColumnPlot).values = [float(v) for v in series.equity]
        self.query_one("#backtest-drawdown", ColumnPlot).values = [float(-d * 100) for d in series.drawdown]

    # -- sweeps ----------------------------------------------------------------------------
    def _show_sweeps(self, identity: str | None, sweeps: list[SweepListing], detail: SweepDetail | None) -> None:
        self._sweep_identity = identity
        panel = self.query_one("#sweeps")
        panel.display = bool(sweeps)
        if not sweeps:
            return
        self.query_one("#sweeps-title", Static).update(f"Sweeps ({len(sweeps)}), newest first: ↑↓ to choose")
        table = self.query_one("#sweep-list", SweepList)
        table.show(sweeps)
        if detail is not None:
            row = next(i for i, s in enumerate(sweeps) if s.sweep_id == detail.listing.sweep_id)
            table.move_cursor(row=row)
            self._show_detail(detail)

    def _show_detail(self, detail: SweepDetail) -> None:
        self._shown_sweep = detail.listing.sweep_id
        problem = self.query_one("#sweep-problem", Static)
        problem.display = bool(detail.problem)
        problem.update(detail.problem)
        heatmap = self.query_one("#sweep-heatmap", SweepHeatmap)
        heatmap.display = detail.heatmap is not None
        heatmap.show(detail.heatmap, detail.listing.objective)
        runs = self.query_one("#sweep-runs", SweepRuns)
        runs.display = not detail.problem
        runs.show(detail)

    @on(DataTable.RowHighlighted, "#sweep-list")
    def _sweep_chosen(self, event: DataTable.RowHighlighted) -> None:
        sweep_id = event.row_key.value if event.row_key is not None else None
        if sweep_id and sweep_id != self._shown_sweep and self._sweep_identity:
            self.load_detail(self._sweep_identity, sweep_id)

    @work(thread=True, exclusive=True, group="backtest-sweep")
    def load_detail(self, identity: str, sweep_id: str) -> None:
        try:
            detail = load_sweep(self.app.paths, identity, sweep_id)
        except (OSError, ValueError) as exc:
            detail = SweepDetail(SweepListing(sweep_id), problem=f"{sweep_id}: {exc}")
        self.app.call_from_thread(self._show_detail, detail)
