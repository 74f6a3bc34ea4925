"""The frame every console screen shares: header, banners, acknowledgement line, footer."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import getters
from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tbot_tui.widgets.ack_line import AckLine
from tbot_tui.widgets.core_banner import CoreBanner
from tbot_tui.widgets.status_header import ConsoleHeader

if TYPE_CHECKING:  # app.py imports this module
    from tbot_tui.app import ConsoleBase


class ConsoleScreen(Screen[None]):
    """Subclasses yield their body from ``compose_body``; the frame stays identical everywhere."""

    if TYPE_CHECKING:  # the console this screen belongs to, for the type checker only (no run-time check)
        app = getters.app(ConsoleBase)

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(classes="console-header")
        yield CoreBanner(classes="core-banner")
        yield AckLine(classes="ack-line")
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError
