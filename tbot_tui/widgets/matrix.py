"""The seed's Emergency Event Matrix with each row's live state."""

from __future__ import annotations

from typing import Any

from rich.text import Text
from textual.widgets import DataTable

from tbot_core.emergency import EMERGENCY_MATRIX
from tbot_core.state import StateRead
from tbot_tui.view import hhmmss, rows, text

TRIGGERED_STYLE = "bold red reverse"
COLUMNS = (("state", 9), ("event", 29), ("last", 8), ("cause", 32), ("scope", 6), ("response", 48))


class MatrixPanel(DataTable):
    """Rows in the seed's order; a triggered row is reversed and says TRIGGERED (legible without colour)."""

    BORDER_TITLE = "Emergency matrix"
    _shown: dict[Any, dict[str, Any]] | None = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        for label, width in COLUMNS:
            self.add_column(label, width=width)
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        live = {r.get("key"): r for r in rows(read.state if read else None, "emergency_matrix")}
        if live == self._shown:
            return
        self._shown = live
        self.clear()
        for spec in EMERGENCY_MATRIX:
            row: dict[str, Any] = live.get(spec.key, {})
            state = str(row.get("state") or "—")
            style = TRIGGERED_STYLE if state == "triggered" else ""
            cells = [state.upper() if state == "triggered" else state, spec.event, hhmmss(row.get("last_utc")),
                     text(row.get("cause")), spec.scope, spec.response]
            self.add_row(*(Text(c, style=style) for c in cells), key=spec.key)
