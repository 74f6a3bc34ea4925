"""Kill needs a confirmation and a reason: it halts trading until someone resets it."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

DEFAULT_REASON = "operator kill from console"


class KillConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the reason on confirm, ``None`` on cancel."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]

    def compose(self) -> ComposeResult:
        with Vertical(id="kill-box", classes="dialog"):
            yield Static(
                "KILL: halt all trading now? The kill switch stays triggered until reset (R).", classes="dialog-title"
            )
            yield Input(DEFAULT_REASON, placeholder="reason (required)", id="kill-reason")
            yield Static("", id="kill-error", classes="error-line")
            with Horizontal(classes="dialog-buttons"):
                yield Button("Kill (Enter)", id="kill-yes", variant="error")
                yield Button("Cancel (Esc)", id="kill-no")

    def on_mount(self) -> None:
        reason = self.query_one(Input)
        reason.cursor_blink = not self.app.is_headless
        reason.focus()

    @on(Input.Submitted)
    @on(Button.Pressed, "#kill-yes")
    def confirm(self) -> None:
        reason = self.query_one(Input).value.strip()
        if not reason:
            self.query_one("#kill-error", Static).update("a reason is required")
            return
        self.dismiss(reason)

    @on(Button.Pressed, "#kill-no")
    def action_cancel(self) -> None:
        self.dismiss(None)
