"""Accepting a broker-vs-books mismatch: new entries resume while the books disagree, so type ACCEPT and say why."""

from __future__ import annotations

from tbot_tui.screens.reset_confirm import ResetConfirmScreen

ACCEPT_WORD = "ACCEPT"


class AcceptMismatchScreen(ResetConfirmScreen):
    """Dismisses with the reason once ACCEPT and a reason are given; ``None`` on cancel."""

    WORD = ACCEPT_WORD
    PROMPT = (
        "Accept the broker-vs-books mismatch: new entries resume although the broker and the books "
        f"disagree. Type {ACCEPT_WORD} and give a reason."
    )
    YES = "Accept (Enter)"
