"""Self-check results from the core's startup pipeline."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from tbot_core.state import StateRead
from tbot_tui.screens.base import ConsoleScreen
from tbot_tui.view import text


class SelfCheckScreen(ConsoleScreen):
    def compose_body(self) -> ComposeResult:
        yield Static("Self-check (startup pipeline)", classes="screen-title")
        yield DataTable(id="selfcheck-table", cursor_type="row", classes="body-table")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("module", "result", "detail", "hint", "checked")
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        table = self.query_one(DataTable)
        table.clear()
        for check in (read.state.self_check if read and read.state else None) or ():
            table.add_row(
                text(check.module),
                Text("PASS", style="green") if check.ok else Text("FAIL", style="bold red reverse"),
                text(check.detail),
                text(check.hint),
                text(check.checked_utc),
            )
        if not table.row_count:
            table.add_row("—", "no self-check results published", "", "", "")
