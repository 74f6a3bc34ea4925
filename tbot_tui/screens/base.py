"""The frame every console screen shares: header, banners, acknowledgement line, footer."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.screen import Screen
from textual.widgets import Footer

from tbot_tui.widgets.ack_line import AckLine
from tbot_tui.widgets.core_banner import CoreBanner
from tbot_tui.widgets.status_header import ConsoleHeader


class ConsoleScreen(Screen[None]):
    """Subclasses yield their body from ``compose_body``; the frame stays identical everywhere."""

    def compose(self) -> ComposeResult:
        yield ConsoleHeader(classes="console-header")
        yield CoreBanner(classes="core-banner")
        yield AckLine(classes="ack-line")
        yield from self.compose_body()
        yield Footer(compact=True)

    def compose_body(self) -> ComposeResult:
        raise NotImplementedError
