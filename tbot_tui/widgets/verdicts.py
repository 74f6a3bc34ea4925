"""Filter verdicts, newest first, with allow/block shown by word and colour."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import DataTable, Select, Static

from tbot_core.state import StateRead
from tbot_tui.view import hhmmss, rows, text
from tbot_tui.widgets.select_options import grow_options

OUTCOMES = [("allow", "allow"), ("block", "block")]
# What an operator reads first goes left: at 80 columns the time and strategy scroll off.
COLUMNS = (("outcome", 5), ("symbol", 6), ("module", 14), ("reason", 28), ("strategy", 8), ("time", 8))


def verdict_matches(verdict: dict[str, Any], module: str | None, outcome: str | None) -> bool:
    if module and verdict.get("module") != module:
        return False
    if outcome and ("allow" if verdict.get("allow") else "block") != outcome:
        return False
    return True


class VerdictPanel(Vertical):
    """Live gate verdicts from ``state.json``; filter by module or by outcome."""

    BORDER_TITLE = "Filter verdicts"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._verdicts: list[dict[str, Any]] = []
        self._modules: set[str] = set()
        self._shown_key: tuple[Any, ...] | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Select([], prompt="module: all", id="verdict-module", compact=True)
            yield Select(OUTCOMES, prompt="outcome: all", id="verdict-outcome", compact=True)
        yield DataTable(id="verdict-table", cursor_type="row", zebra_stripes=False)
        yield Static("no verdicts yet", id="verdict-empty")

    def on_mount(self) -> None:
        table = self.query_one(DataTable)
        for label, width in COLUMNS:
            table.add_column(label, width=width)
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        self._verdicts = rows(read.state if read else None, "verdicts")
        grow_options(self.query_one("#verdict-module", Select), self._modules,
                     {str(v["module"]) for v in self._verdicts if v.get("module")})
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
        key = (module, outcome, len(shown), tuple((v.get("ts_utc"), v.get("symbol"), v.get("module")) for v in shown[:3]))
        if key == self._shown_key:
            return
        self._shown_key = key
        table = self.query_one(DataTable)
        table.clear()
        for v in shown:
            allowed = bool(v.get("allow"))
            outcome_cell = Text("ALLOW", style="green") if allowed else Text("BLOCK", style="bold red")
            table.add_row(outcome_cell, text(v.get("symbol")), text(v.get("module")), text(v.get("reason")),
                          text(v.get("strategy")), hhmmss(v.get("ts_utc")))
        empty = self.query_one("#verdict-empty", Static)
        empty.display = not shown
        empty.update("no verdicts yet" if not self._verdicts else "no verdict matches the filter")
