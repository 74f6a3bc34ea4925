"""The latest backtest's equity curve and drawdown, drawn as text columns."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.widgets import Static

from tbot_core.errors import TbotError
from tbot_core.paths import HomePaths
from tbot_tui.backtest_data import BacktestSeries, load_backtest
from tbot_tui.screens.base import ConsoleScreen
from tbot_tui.widgets.column_plot import ColumnPlot


def latest_backtest_identity(paths: HomePaths) -> str | None:
    """Without a core's state.json, the identity whose backtest summary is the newest (no vault access)."""
    found = [
        (paths.backtest_daily_summary(name).stat().st_mtime, name)
        for name in paths.output_identities()
        if paths.backtest_daily_summary(name).exists()
    ]
    return max(found)[1] if found else None


class BacktestScreen(ConsoleScreen):
    def compose_body(self) -> ComposeResult:
        yield Static("Latest backtest", id="backtest-title", classes="screen-title")
        yield Static("Equity", classes="plot-title")
        yield ColumnPlot(id="backtest-equity", classes="plot")
        yield Static("Drawdown (% below peak)", classes="plot-title")
        yield ColumnPlot(id="backtest-drawdown", classes="plot")

    def on_mount(self) -> None:
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="backtest")
    def load(self) -> None:
        read = self.app.state_read
        ident = read.state.identity if read and read.state else None
        identity = ident.bot_identity if ident is not None else None
        try:
            identity = identity or latest_backtest_identity(self.app.paths)
            series = (
                load_backtest(self.app.paths, str(identity))
                if identity
                else BacktestSeries(problem="no backtest yet (run `tbot backtest` to make one)")
            )
        except (TbotError, ValueError) as exc:
            series = BacktestSeries(problem=exc.one_line() if isinstance(exc, TbotError) else str(exc))
        self.app.call_from_thread(self._show, series)

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
