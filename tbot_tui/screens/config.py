"""The configuration, read-only, secrets redacted; a vault that cannot be read is one line."""

from __future__ import annotations

from textual import work
from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from tbot_core.config import key_doc
from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_tui.screens.base import ConsoleScreen


def load_redacted(root: str) -> tuple[dict[str, str], str]:
    """The redacted settings, or the one-line reason they cannot be shown."""
    try:
        return BotHome(root).settings.redacted(), ""
    except TbotError as exc:
        return {}, exc.one_line()


class ConfigScreen(ConsoleScreen):
    def compose_body(self) -> ComposeResult:
        yield Static("Configuration (read-only; change it with `tbot config set`)", classes="screen-title")
        yield Static("", id="config-error", classes="error-line")
        yield DataTable(id="config-table", cursor_type="row", classes="body-table")

    def on_mount(self) -> None:
        self.query_one(DataTable).add_columns("key", "value", "meaning")
        self.query_one("#config-error").display = False
        self.load()

    def on_screen_resume(self) -> None:
        self.load()

    @work(thread=True, exclusive=True, group="config")
    def load(self) -> None:
        values, problem = load_redacted(str(self.app.paths.root))
        self.app.call_from_thread(self._show, values, problem)

    def _show(self, values: dict[str, str], problem: str) -> None:
        error = self.query_one("#config-error", Static)
        error.display = bool(problem)
        error.update(f"cannot read the configuration: {problem}")
        table = self.query_one(DataTable)
        table.clear()
        for key, value in values.items():
            try:
                doc = key_doc(key)
            except KeyError:
                doc = ""
            table.add_row(key, value, doc)
