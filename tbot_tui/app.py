"""The console application: a view over state.json, the audit log and control flags."""

from __future__ import annotations

from textual import work
from textual.app import App, ComposeResult
from textual.reactive import reactive
from textual.widgets import Footer, Header, Static

from tbot_core.paths import HomePaths, stylesheet
from tbot_core.state import StateRead, read_state

REFRESH_SECONDS = 0.5


class TradeBotConsole(App[None]):
    CSS_PATH = str(stylesheet())
    TITLE = "TradeBot"
    BINDINGS = [("q", "quit", "Quit console (core keeps running)")]

    status: reactive[str] = reactive("connecting")

    def __init__(self, home: str | None = None) -> None:
        super().__init__()
        self.paths = HomePaths(home)

    def compose(self) -> ComposeResult:
        yield Header(show_clock=True)
        yield Static("connecting to core...", id="core-banner")
        yield Footer()

    def on_mount(self) -> None:
        self.set_interval(REFRESH_SECONDS, self.refresh_state)
        self.refresh_state()

    @work(thread=True, exclusive=True, group="state")
    def refresh_state(self) -> None:
        read = read_state(self.paths.state_file)
        self.call_from_thread(self._show, read)

    def _show(self, read: StateRead) -> None:
        banner = self.query_one("#core-banner", Static)
        if read.status == "ok" and read.state:
            self.status = f"core {read.state.get('mode')}"
            banner.update(f"core: {read.state.get('mode')}")
            banner.set_class(False, "down")
        else:
            self.status = "core not running"
            banner.update(f"core not running — {read.problem}. Start it with `tbot run` or `tbot core`.")
            banner.set_class(True, "down")
        self.sub_title = self.status
