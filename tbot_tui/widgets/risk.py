"""Risk state: loss gauge, PnL sparkline, exposure, positions, kill switch, defense, watchdog."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from tbot_core.state import StateRead
from tbot_tui.view import DASH, hhmmss, money, pnl_series, rows, seconds, section, text, used_fraction
from tbot_tui.widgets.pnl_gauge import PnlGauge


def watchdog_line(watchdog: dict[str, Any]) -> str:
    parts = []
    for name in ("broker", "feed"):
        beat = watchdog.get(name) if isinstance(watchdog.get(name), dict) else {}
        state = str(beat.get("state") or DASH)
        word = state if state in {"ok", DASH} else state.upper()
        parts.append(f"{name} {word} {seconds(beat.get('age_seconds'))}/{seconds(beat.get('threshold_seconds'))}")
    return "watchdog  " + " · ".join(parts)


def allocation_line(exposure: dict[str, Any]) -> str:
    allocations = exposure.get("allocations") if isinstance(exposure.get("allocations"), dict) else {}
    cells = [
        f"{name} {money(a.get('used'))}/{money(a.get('limit'))}"
        for name, a in sorted(allocations.items())
        if isinstance(a, dict)
    ]
    return "alloc     " + (" · ".join(cells) if cells else DASH)


class RiskPanel(VerticalScroll):
    """Everything that can stop the bot, in the order an operator checks it."""

    BORDER_TITLE = "Risk state"

    def compose(self) -> ComposeResult:
        yield Static(id="risk-pnl")
        yield PnlGauge(id="risk-gauge")
        yield Sparkline([], id="risk-spark")
        yield Static(id="risk-kill")
        yield Static(id="risk-defense")
        yield Static(id="risk-watchdog")
        yield Static(id="risk-exposure")
        yield Static(id="risk-alloc")
        yield Static(id="risk-positions")

    def on_mount(self) -> None:
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        state = read.state if read else None
        pnl, kill = section(state, "pnl"), section(state, "kill_switch")
        defense, exposure = section(state, "defense_mode"), section(state, "exposure")
        self.query_one("#risk-pnl", Static).update(
            f"daily PnL {money(pnl.get('daily'))}  limit {text(pnl.get('limit_text') or pnl.get('limit'))}"
            f"  realized {money(pnl.get('realized'))}"
        )
        self.query_one(PnlGauge).fraction = used_fraction(pnl)
        self.query_one(Sparkline).data = pnl_series(pnl) or [0.0]
        triggered = kill.get("state") == "triggered"
        kill_widget = self.query_one("#risk-kill", Static)
        kill_widget.set_class(triggered, "-alert")
        kill_widget.update(
            f"kill sw   TRIGGERED {hhmmss(kill.get('since_utc'))}Z {text(kill.get('cause'))}"
            if triggered
            else f"kill sw   {text(kill.get('state'))}"
        )
        active = defense.get("active")
        self.query_one("#risk-defense", Static).update(
            f"defense   {'ON factor ' + text(defense.get('factor')) if active else ('off' if active is False else DASH)}"
        )
        watchdog = section(state, "watchdog")
        dog = self.query_one("#risk-watchdog", Static)
        dog.update(watchdog_line(watchdog))
        dog.set_class(
            any(isinstance(b, dict) and b.get("state") not in (None, "ok") for b in watchdog.values()), "-alert"
        )
        self.query_one("#risk-exposure", Static).update(
            f"exposure  gross {money(exposure.get('gross'))} / {money(exposure.get('gross_limit'))}"
            f"  net {money(exposure.get('net'))}"
        )
        self.query_one("#risk-alloc", Static).update(allocation_line(exposure))
        positions = rows(state, "positions")
        cells = [f"{text(p.get('symbol'))} {text(p.get('qty'))}@{money(p.get('avg_price'))}" for p in positions]
        self.query_one("#risk-positions", Static).update(
            f"positions {len(positions)}: " + (", ".join(cells) if cells else DASH)
        )
