"""The top line: who this bot is, where it trades, and whether the core is there."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.text import Text
from textual import getters
from textual.reactive import reactive
from textual.widgets import Static

from tbot_core.state import StateRead
from tbot_tui.view import DASH

if TYPE_CHECKING:  # app.py imports this module
    from tbot_tui.app import ConsoleBase

FULL_DATE_MIN_WIDTH = 100  # narrower, the clock drops the date so the connection state stays visible
CONNECTION_LABELS = {"ok": "core ok", "missing": "CORE DOWN", "stale": "CORE STALE", "garbled": "STATE GARBLED"}


class ConsoleHeader(Static):
    """Identity, broker, mode, paper/live, the UTC clock and the core connection state."""

    now_text: reactive[str] = reactive("")

    if TYPE_CHECKING:  # the console this widget lives in, for the type checker only (no run-time check)
        app = getters.app(ConsoleBase)

    def on_mount(self) -> None:
        self.watch(self.app, "state_read", self._show, init=True)
        self.set_interval(1.0, self._tick)
        self._tick()

    def _tick(self) -> None:
        self.now_text = self.app.clock().strftime("%Y-%m-%d %H:%M:%SZ")

    def on_resize(self) -> None:
        self._show(self.app.state_read)

    def watch_now_text(self) -> None:
        self._show(self.app.state_read)

    def _show(self, read: StateRead | None) -> None:
        state = read.state if read else None
        ident = state.identity if state is not None else None
        status = read.status if read else "missing"
        paper = ident.paper if ident is not None else None
        line = Text(no_wrap=True, overflow="ellipsis")
        line.append(f" {(ident and ident.bot_identity) or DASH} ", style="bold")
        line.append(f"│ broker {(ident and ident.broker) or DASH} · ")
        line.append(
            "PAPER" if paper else ("LIVE" if paper is False else "paper/live unknown"),
            style="bold" if paper is False else "",
        )
        line.append(f" │ {(state.mode if state is not None else DASH) if status == 'ok' else 'unknown'} ")
        clock = self.now_text if self.size.width >= FULL_DATE_MIN_WIDTH else self.now_text[11:]
        line.append(f"│ {clock} │ ")
        line.append(CONNECTION_LABELS.get(status, status), style="bold" if status != "ok" else "")
        self.set_class(status != "ok", "-down")
        self.set_class(paper is False, "-live")
        self.update(line)
