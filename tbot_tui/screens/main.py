"""The main screen: verdicts, risk, emergency matrix and audit tail in one grid."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Grid
from textual.widgets import Input

from tbot_tui.screens.base import ConsoleScreen
from tbot_tui.widgets.audit_tail import AuditPanel
from tbot_tui.widgets.matrix import MatrixPanel
from tbot_tui.widgets.risk import RiskPanel
from tbot_tui.widgets.verdicts import VerdictPanel


class MainScreen(ConsoleScreen):
    BINDINGS = [Binding("slash", "search", "Search", key_display="/", tooltip="Search the audit log (Tab leaves the box)")]

    def compose_body(self) -> ComposeResult:
        with Grid(id="main-grid"):
            yield VerdictPanel(id="verdicts", classes="panel")
            yield RiskPanel(id="risk", classes="panel")
            yield MatrixPanel(id="matrix", classes="panel")
            yield AuditPanel(id="audit", classes="panel")

    def action_search(self) -> None:
        self.query_one("#audit-search", Input).focus()
