"""The audit log tail with category/severity filters and a search box."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from rich.text import Text
from textual import getters, on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Input, RichLog, Select

from tbot_core.audit import SEVERITIES, AuditRow
from tbot_tui.widgets.select_options import grow_options

if TYPE_CHECKING:  # app.py imports this module
    from tbot_tui.app import ConsoleBase

VISIBLE_ROWS = 500
SEVERITY_WORD = {"debug": "DBUG", "info": "INFO", "warning": "WARN", "error": "ERR!", "critical": "CRIT"}
SEVERITY_STYLE = {"debug": "dim", "info": "", "warning": "yellow", "error": "bold red", "critical": "bold red reverse"}


def row_matches(row: AuditRow, category: str | None, severity: str | None, search: str) -> bool:
    if category and row.category != category:
        return False
    if severity and row.severity != severity:
        return False
    if search:
        needle = search.lower()
        return needle in row.event.lower() or needle in row.context.lower() or needle in row.category.lower()
    return True


def format_row(row: AuditRow) -> Text:
    line = Text(no_wrap=True, overflow="ellipsis")
    line.append(f"{row.seq:>5} {row.ts_utc[11:19]} ")
    line.append(SEVERITY_WORD.get(row.severity, row.severity[:4].upper()), style=SEVERITY_STYLE.get(row.severity, ""))
    line.append(f" {row.category}/{row.event} ")
    line.append(row.context[:200], style="dim")
    return line


class AuditPanel(Vertical):
    """New rows stream in from the app's ring buffer; a filter change re-queries the database."""

    BORDER_TITLE = "Audit log"

    if TYPE_CHECKING:  # the console this widget lives in, for the type checker only (no run-time check)
        app = getters.app(ConsoleBase)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._categories: set[str] = set()
        self._last_seq = 0
        self.shown_seq = 0

    def compose(self) -> ComposeResult:
        with Horizontal(classes="filters"):
            yield Select([], prompt="category: all", id="audit-category", compact=True)
            yield Select([(s, s) for s in SEVERITIES], prompt="severity: all", id="audit-severity", compact=True)
            yield Input(placeholder="/ search", id="audit-search", compact=True)
        yield RichLog(id="audit-log", max_lines=VISIBLE_ROWS, wrap=False, auto_scroll=True)

    def on_mount(self) -> None:
        self.query_one(Input).cursor_blink = not self.app.is_headless
        self.watch(self.app, "audit_seq", self._on_new_rows, init=True)

    @property
    def filters(self) -> tuple[str | None, str | None, str]:
        category = self.query_one("#audit-category", Select).value
        severity = self.query_one("#audit-severity", Select).value
        return (
            category if isinstance(category, str) else None,
            severity if isinstance(severity, str) else None,
            self.query_one(Input).value.strip(),
        )

    def _on_new_rows(self, _seq: int) -> None:
        fresh = [r for r in self.app.audit_ring if r.seq > self._last_seq]
        if not fresh:
            return
        self._last_seq = fresh[-1].seq
        grow_options(self.query_one("#audit-category", Select), self._categories, {r.category for r in fresh})
        category, severity, search = self.filters
        lines = [format_row(row) for row in fresh if row_matches(row, category, severity, search)]
        if lines:
            self.query_one(RichLog).write(Text("\n").join(lines))  # one write per poll, not one per row
        self.shown_seq = self._last_seq
        self.app.audit_shown(self._last_seq)

    @on(Select.Changed)
    @on(Input.Changed)
    def _filters_changed(self, event: Select.Changed | Input.Changed) -> None:
        event.stop()
        self.requery(*self.filters)

    @work(thread=True, exclusive=True, group="audit-filter")
    def requery(self, category: str | None, severity: str | None, search: str) -> None:
        rows, _problem = self.app.audit_query(VISIBLE_ROWS, category=category, severity=severity, search=search)
        self.app.call_from_thread(self._replace, rows, (category, severity, search))

    def _replace(self, rows: list[AuditRow], filters: tuple[str | None, str | None, str]) -> None:
        if filters != self.filters:
            return  # the operator typed on; a newer query is coming
        log = self.query_one(RichLog)
        log.clear()
        newer = [r for r in self.app.audit_ring if r.seq > (rows[-1].seq if rows else 0) and row_matches(r, *filters)]
        if rows or newer:
            log.write(Text("\n").join(format_row(row) for row in [*rows, *newer]))
