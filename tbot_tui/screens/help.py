"""Every key binding, generated from the bindings themselves so it cannot drift."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import DataTable, Static


def binding_rows(groups: list[tuple[str, list[Binding]]]) -> list[tuple[str, str, str]]:
    out = []
    for where, bindings in groups:
        for b in bindings:
            out.append((b.key_display or b.key, b.tooltip or b.description or b.action, where))
    return out


class HelpScreen(ModalScreen[None]):
    BINDINGS = [Binding("escape,question_mark,q", "dismiss", "Close help")]

    def __init__(self, groups: list[tuple[str, list[Binding]]]) -> None:
        super().__init__()
        self.groups = groups

    def compose(self) -> ComposeResult:
        with Vertical(id="help-box"):
            yield Static("Keys (Esc closes; Ctrl+P opens the command palette)", classes="screen-title")
            table: DataTable[str] = DataTable(id="help-table", cursor_type="row")
            table.add_columns("key", "does", "where")
            for row in binding_rows(self.groups):
                table.add_row(*row)
            yield table
