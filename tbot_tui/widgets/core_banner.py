"""A banner that appears only when something is wrong with what the console reads."""

from __future__ import annotations

from typing import TYPE_CHECKING

from textual import getters
from textual.widgets import Static

from tbot_core.state import StateRead
from tbot_core.state_schema import BeatState, CoreMode, CoreState
from tbot_tui.view import seconds

if TYPE_CHECKING:  # app.py imports this module
    from tbot_tui.app import ConsoleBase

HINTS = {
    "missing": "start it with `tbot run` (or `tbot core`)",
    "stale": "the figures below are the last ones the core published",
    "garbled": "the core will replace it on its next write",
}


def suspended_feeds(state: CoreState) -> str:
    watchdog = state.watchdog
    beats = () if watchdog is None else (("broker", watchdog.broker), ("feed", watchdog.feed))
    down = [
        f"{name} {beat.state} ({seconds(beat.age_seconds)} > {seconds(beat.threshold_seconds)})"
        for name, beat in beats
        if beat.state != BeatState.OK
    ]
    return ", ".join(down) or "no heartbeat detail published"


class CoreBanner(Static):
    """Core down, stale or garbled state, or an unreadable audit log: one line each."""

    if TYPE_CHECKING:  # the console this widget lives in, for the type checker only (no run-time check)
        app = getters.app(ConsoleBase)

    def on_mount(self) -> None:
        self.watch(self.app, "state_read", self._refresh_text, init=False)
        self.watch(self.app, "audit_problem", self._refresh_text, init=False)
        self._refresh_text()

    def _refresh_text(self, _value: object = None) -> None:
        read: StateRead | None = self.app.state_read
        state = read.state if read is not None else None
        mode = state.mode if state is not None else None
        lines = []
        if read is not None and read.status != "ok":
            lines.append(f"CORE {read.status.upper()}: {read.problem} — {HINTS.get(read.status, '')}")
        elif mode is CoreMode.HALTED:
            how = (
                "reset it from an operator console (`tbot tui`, key R) or `tbot control reset`"
                if self.app.read_only
                else "reset with R (type RESET and give a reason)"
            )
            lines.append(f"KILL SWITCH TRIGGERED: trading halted — {how}")
        elif state is not None and mode is CoreMode.BLOCKED:
            reason = state.blocked_reason or "see the Self-check screen"
            lines.append(f"LAUNCH BLOCKED: {reason} — fix it, then start the core again")
        elif state is not None and mode is CoreMode.SUSPENDED:
            lines.append(f"TRADING SUSPENDED by the watchdog: {suspended_feeds(state)} — the core retries by itself")
        if self.app.audit_problem:
            lines.append(f"AUDIT LOG: {self.app.audit_problem}")
        self.display = bool(lines)
        self.update("\n".join(lines))
