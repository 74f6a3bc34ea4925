"""Filter verdicts, newest first, with allow/block shown by word and colour."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import getters
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Select, Static

from tbot_core.state import StateRead
from tbot_core.state_schema import VerdictRow
from tbot_tui.view import DASH, hhmmss, text
from tbot_tui.widgets.select_options import grow_options

if TYPE_CHECKING:  # app.py imports this module
    from tbot_tui.app import ConsoleBase

OUTCOMES = [("allow", "allow"), ("block", "block")]
# What an operator reads first goes left; the reason takes whatever width is left.
FIXED_COLUMNS = (("time", 8), ("verdict", 7), ("symbol", 6))
DATED_TIME = ("date time (UTC)", 19)  # replay and backtest bars are not from today: then every row shows its date
STRATEGY_WIDTH = 8
MODULE_MIN, REASON_MIN = 14, 12
CELL_PADDING = 2  # DataTable's default cell padding, one column each side


def column_widths(
    width: int, longest_module: int, longest_reason: int, *, dated: bool = False
) -> list[tuple[str, int]]:
    """Columns for a table ``width`` cells wide: time (with the date when ``dated``), verdict, symbol and
    module always (the module yields width to the reason down to MODULE_MIN); the reason fills the rest;
    strategy only when the whole reason fits beside it (it matters least)."""
    columns = [DATED_TIME, *FIXED_COLUMNS[1:]] if dated else list(FIXED_COLUMNS)
    rest = width - sum(w + CELL_PADDING for _label, w in columns)
    module = max(MODULE_MIN, min(longest_module, rest - longest_reason - 2 * CELL_PADDING))
    columns.append(("module", module))
    rest -= module + CELL_PADDING
    with_strategy = rest - (STRATEGY_WIDTH + CELL_PADDING)
    if with_strategy - CELL_PADDING >= longest_reason:
        return [*columns, ("reason", with_strategy - CELL_PADDING), ("strategy", STRATEGY_WIDTH)]
    return [*columns, ("reason", max(REASON_MIN, rest - CELL_PADDING))]


def verdict_time(ts_utc: Any, dated: bool) -> str:
    """``15:29:58``, or ``2026-01-05 14:30:00`` when the table shows dates."""
    raw = str(ts_utc or "")
    return f"{raw[:10]} {hhmmss(raw)}" if dated and hhmmss(raw) != DASH else hhmmss(raw)


def needs_dates(stamps: Iterable[str], today: str) -> bool:
    """True when any verdict's bar time is not from ``today`` (YYYY-MM-DD, UTC): a replay or a backtest."""
    return any(stamp[:10] not in ("", today) for stamp in stamps)


def verdict_matches(verdict: VerdictRow, module: str | None, outcome: str | None) -> bool:
    if module and verdict.module != module:
        return False
    if outcome and ("allow" if verdict.allow else "block") != outcome:
        return False
    return True


class VerdictPanel(Vertical):
    """Live gate verdicts from ``state.json``; filter by module or by outcome."""

    BORDER_TITLE = "Filter verdicts"

    if TYPE_CHECKING:  # the console this widget lives in, for the type checker only (no run-time check)
        app = getters.app(ConsoleBase)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._verdicts: tuple[VerdictRow, ...] = ()
        self._modules: set[str] = set()
        self._shown_key: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Select([], prompt="module: all", id="verdict-module", compact=True)
            yield Select(OUTCOMES, prompt="outcome: all", id="verdict-outcome", compact=True)
        yield DataTable(id="verdict-table", cursor_type="row", zebra_stripes=False)
        yield Static("no verdicts yet", id="verdict-empty")

    def on_mount(self) -> None:
        self.watch(self.app, "state_read", self._on_state, init=True)

    def on_resize(self) -> None:
        self._render_rows()

    def _on_state(self, read: StateRead | None) -> None:
        self._verdicts = (read.state.verdicts if read and read.state else None) or ()
        grow_options(
            self.query_one("#verdict-module", Select),
            self._modules,
            {v.module for v in self._verdicts if v.module},
        )
        self._render_rows()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        self._render_rows()

    def _filter(self, select_id: str) -> str | None:
        value = self.query_one(select_id, Select).value
        return value if isinstance(value, str) else None

    def _render_rows(self) -> None:
        module, outcome = self._filter("#verdict-module"), self._filter("#verdict-outcome")
        shown = [v for v in self._verdicts if verdict_matches(v, module, outcome)]
        table = self.query_one(DataTable)
        dated = needs_dates((v.ts_utc for v in self._verdicts), self.app.clock().strftime("%Y-%m-%d"))
        columns = column_widths(
            table.size.width - table.styles.scrollbar_size_vertical,
            max((len(text(v.module)) for v in self._verdicts), default=0),
            max((len(text(v.reason)) for v in self._verdicts), default=0),
            dated=dated,
        )
        key = (
            module,
            outcome,
            len(shown),
            tuple(columns),
            tuple((v.ts_utc, v.symbol, v.module) for v in shown[:3]),
        )
        if key == self._shown_key:
            return
        self._shown_key = key
        table.clear(columns=True)
        for label, width in columns:
            table.add_column(label, width=width, key=label)
        for v in shown:
            cells = {
                "time": verdict_time(v.ts_utc, dated),
                DATED_TIME[0]: verdict_time(v.ts_utc, dated),
                "verdict": Text("ALLOW", style="green") if v.allow else Text("BLOCK", style="bold red"),
                "symbol": text(v.symbol),
                "module": text(v.module),
                "reason": text(v.reason),
                "strategy": text(v.strategy),
            }
            table.add_row(*(cells[label] for label, _width in columns))
        empty = self.query_one("#verdict-empty", Static)
        empty.display = not shown
        empty.update("no verdicts yet" if not self._verdicts else "no verdict matches the filter")
