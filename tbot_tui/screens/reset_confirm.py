"""Resetting the kill switch: type the word RESET and give a reason.

The same dialog, with another word and prompt, guards every control that lets trading resume
(``AcceptMismatchScreen``): a typed word and a reason, so no stray key press can do it.
"""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Input, Static

CONFIRM_WORD = "RESET"


def reset_problem(word: str, reason: str, expected: str = CONFIRM_WORD) -> str:
    """Why the dialog refuses, or "" when it may write the flag."""
    if word.strip() != expected:
        return f"type {expected} (capitals) to confirm"
    if not reason.strip():
        return "a reason is required"
    return ""


class ResetConfirmScreen(ModalScreen[str | None]):
    """Dismisses with the reason once the word and a reason are given; ``None`` on cancel."""

    BINDINGS = [Binding("escape", "cancel", "Cancel")]
    WORD = CONFIRM_WORD
    PROMPT = f"Reset the kill switch: trading may resume. Type {CONFIRM_WORD} and give a reason."
    YES = "Reset (Enter)"

    def compose(self) -> ComposeResult:
        with Vertical(id="reset-box", classes="dialog"):
            yield Static(self.PROMPT, classes="dialog-title")
            yield Input(placeholder=f"type {self.WORD}", id="reset-word")
            yield Input(placeholder="reason (required)", id="reset-reason")
            yield Static("", id="reset-error", classes="error-line")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.YES, id="reset-yes", variant="warning")
                yield Button("Cancel (Esc)", id="reset-no")

    def on_mount(self) -> None:
        for field in self.query(Input):
            field.cursor_blink = not self.app.is_headless
        self.query_one("#reset-word", Input).focus()

    @on(Input.Submitted, "#reset-word")
    def next_field(self) -> None:
        self.query_one("#reset-reason", Input).focus()

    @on(Input.Submitted, "#reset-reason")
    @on(Button.Pressed, "#reset-yes")
    def confirm(self) -> None:
        word, reason = self.query_one("#reset-word", Input).value, self.query_one("#reset-reason", Input).value
        problem = reset_problem(word, reason, self.WORD)
        if problem:
            self.query_one("#reset-error", Static).update(problem)
            return
        self.dismiss(reason.strip())

    @on(Button.Pressed, "#reset-no")
    def action_cancel(self) -> None:
        self.dismiss(None)
