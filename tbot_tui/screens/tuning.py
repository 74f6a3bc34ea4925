"""Tuning stats per strategy and each enhancement's allow/block counts."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from tbot_core.state import StateRead
from tbot_tui.screens.base import ConsoleScreen
from tbot_tui.view import held_for, money, text

# The figures appear as soon as a core publishes the `tuning` section of state.json (docs/state.md).
NOT_PUBLISHED = (
    "not published yet: this core's state.json has no tuning section (per-strategy stats come with the tuning pipeline)"
)


class TuningScreen(ConsoleScreen):
    def compose_body(self) -> ComposeResult:
        yield Static("Tuning stats (per strategy)", classes="screen-title")
        yield DataTable(id="tuning-table", cursor_type="row", classes="half-table")
        yield Static("Enhancements", classes="screen-title")
        yield DataTable(id="enhancement-table", cursor_type="row", classes="half-table")

    def on_mount(self) -> None:
        self.query_one("#tuning-table", DataTable).add_columns(
            "strategy", "trades", "win rate", "PnL", "max DD", "avg hold", "blocks"
        )
        self.query_one("#enhancement-table", DataTable).add_columns(
            "module", "enabled", "fatal", "status", "allowed", "blocked", "last reason"
        )
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        state = read.state if read else None
        tuning = self.query_one("#tuning-table", DataTable)
        tuning.clear()
        if state is not None and state.tuning is None:
            tuning.add_row("—", NOT_PUBLISHED, "", "", "", "", "")
        for name, stats in sorted(((state.tuning if state else None) or {}).items()):
            tuning.add_row(
                name,
                text(stats.trades),
                text(stats.win_rate),
                money(stats.realized_pnl),
                money(stats.max_drawdown),
                held_for(stats.avg_duration_s),
                ", ".join(f"{m} {n}" for m, n in sorted(stats.blocks.items())) or "—",
            )
        if not tuning.row_count:
            tuning.add_row("—", "no tuning stats yet (no closed trades)", "", "", "", "", "")
        enh = self.query_one("#enhancement-table", DataTable)
        enh.clear()
        for e in (state.enhancements if state else None) or ():
            enh.add_row(
                text(e.module),
                text(e.enabled),
                text(e.fatal),
                text(e.status),
                text(e.allowed),
                text(e.blocked),
                text(e.last_reason),
            )
        if not enh.row_count:
            enh.add_row("—", "no enhancement stats published", "", "", "", "", "")
