"""The configuration, read-only, secrets redacted, as the core publishes it in state.json.

The console never opens the vault: it shows the ``config`` section of
``state.json`` (what ``tbot config show`` prints).  Without a core there is
nothing to show but the command that prints it.
"""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from tbot_core.config import key_doc
from tbot_core.state import StateRead
from tbot_tui.screens.base import ConsoleScreen

NOT_PUBLISHED = "not published: no core has written state.json for this home (`tbot config show` prints it)"


class ConfigScreen(ConsoleScreen):
    def compose_body(self) -> ComposeResult:
        yield Static("Configuration (read-only; change it with `tbot config set`)", classes="screen-title")
        yield Static("", id="config-error", classes="error-line")
        yield DataTable(id="config-table", cursor_type="row", classes="body-table")

    _shown: dict | None = None

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("key", "value", "meaning")
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        values = dict((read.state.config if read and read.state else None) or {})
        if values == self._shown:  # redraw only on a change, so the cursor and scroll stay put
            return
        self._shown = values
        error = self.query_one("#config-error", Static)
        error.display = not values
        error.update(f"configuration {NOT_PUBLISHED}")
        table = self.query_one(DataTable)
        table.clear()
        for key, value in values.items():
            try:
                doc = key_doc(str(key))
            except KeyError:
                doc = ""
            table.add_row(str(key), str(value), doc)
