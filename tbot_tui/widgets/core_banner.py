"""A banner that appears only when something is wrong with what the console reads."""

from __future__ import annotations

from typing import Any

from textual.widgets import Static

from tbot_core.state import StateRead
from tbot_tui.view import seconds, section

HINTS = {
    "missing": "start it with `tbot run` (or `tbot core`)",
    "stale": "the figures below are the last ones the core published",
    "garbled": "the core will replace it on its next write",
}


def suspended_feeds(state: dict[str, Any]) -> str:
    watchdog = section(state, "watchdog")
    down = [
        f"{name} {beat.get('state')} ({seconds(beat.get('age_seconds'))} > {seconds(beat.get('threshold_seconds'))})"
        for name, beat in sorted(watchdog.items())
        if isinstance(beat, dict) and beat.get("state") not in (None, "ok")
    ]
    return ", ".join(down) or "no heartbeat detail published"


class CoreBanner(Static):
    """Core down, stale or garbled state, or an unreadable audit log: one line each."""

    def on_mount(self) -> None:
        self.watch(self.app, "state_read", self._refresh_text, init=False)
        self.watch(self.app, "audit_problem", self._refresh_text, init=False)
        self._refresh_text()

    def _refresh_text(self, _value: object = None) -> None:
        read: StateRead | None = self.app.state_read
        lines = []
        if read is not None and read.status != "ok":
            lines.append(f"CORE {read.status.upper()}: {read.problem} — {HINTS.get(read.status, '')}")
        elif read is not None and (read.state or {}).get("mode") == "halted":
            how = (
                "reset it from an operator console (`tbot tui`, key R) or `tbot control reset`"
                if self.app.read_only
                else "reset with R (type RESET and give a reason)"
            )
            lines.append(f"KILL SWITCH TRIGGERED: trading halted — {how}")
        elif read is not None and (read.state or {}).get("mode") == "blocked":
            reason = (read.state or {}).get("blocked_reason") or "see the Self-check screen"
            lines.append(f"LAUNCH BLOCKED: {reason} — fix it, then start the core again")
        elif read is not None and (read.state or {}).get("mode") == "suspended":
            lines.append(
                f"TRADING SUSPENDED by the watchdog: {suspended_feeds(read.state or {})} — the core retries by itself"
            )
        if self.app.audit_problem:
            lines.append(f"AUDIT LOG: {self.app.audit_problem}")
        self.display = bool(lines)
        self.update("\n".join(lines))
