"""Risk state: loss gauge, PnL sparkline, exposure, positions, kill switch, broker vs books, defense, watchdog."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Sparkline, Static

from tbot_core.state import StateRead
from tbot_core.state_schema import BeatState, BrokerMismatch, Exposure, KillSwitchState, MismatchRow, WatchdogView
from tbot_tui.view import DASH, hhmmss, money, pnl_series, seconds, text, used_fraction
from tbot_tui.widgets.pnl_gauge import PnlGauge


def watchdog_line(watchdog: WatchdogView | None) -> str:
    parts = []
    for name in ("broker", "feed"):
        beat = getattr(watchdog, name, None)
        if beat is None:
            parts.append(f"{name} {DASH} {DASH}/{DASH}")
            continue
        word = beat.state if beat.state == BeatState.OK else beat.state.upper()
        parts.append(f"{name} {word} {seconds(beat.age_seconds)}/{seconds(beat.threshold_seconds)}")
    return "watchdog  " + " · ".join(parts)


def _difference(row: MismatchRow) -> str:
    if row.kind == "position":
        return f"{row.symbol} broker {text(row.broker_qty)} books {text(row.book_qty)}"
    if row.kind == "open_order":
        return f"{row.symbol} order {text(row.broker_qty)} not ours"
    return f"unreadable: {row.detail}"


def mismatch_line(mismatch: BrokerMismatch | None) -> str:
    """The broker-vs-books check as one line: absent means they agree (or no check has run yet)."""
    if mismatch is None:
        return "books     match the broker"
    if not mismatch.blocking:
        return f"books     mismatch accepted by {text(mismatch.acknowledged_by)} {hhmmss(mismatch.acknowledged_utc)}Z"
    first = _difference(mismatch.rows[0]) if mismatch.rows else DASH
    more = f" +{len(mismatch.rows) - 1} more" if len(mismatch.rows) > 1 else ""
    return (
        f"books     MISMATCH {hhmmss(mismatch.found_utc)}Z ({mismatch.cause}): {first}{more}"
        " — entries blocked, A accepts"
    )


def allocation_line(exposure: Exposure | None) -> str:
    allocations = exposure.allocations if exposure is not None else {}
    cells = [f"{name} {money(a.used)}/{money(a.limit)}" for name, a in sorted(allocations.items())]
    return "alloc     " + (" · ".join(cells) if cells else DASH)


class RiskPanel(VerticalScroll):
    """Everything that can stop the bot, in the order an operator checks it."""

    BORDER_TITLE = "Risk state"

    def compose(self) -> ComposeResult:
        yield Static(id="risk-pnl")
        yield PnlGauge(id="risk-gauge")
        yield Sparkline([], id="risk-spark")
        yield Static(id="risk-kill")
        yield Static(id="risk-books")
        yield Static(id="risk-defense")
        yield Static(id="risk-watchdog")
        yield Static(id="risk-exposure")
        yield Static(id="risk-alloc")
        yield Static(id="risk-positions")

    def on_mount(self) -> None:
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        state = read.state if read else None
        pnl, kill = (state.pnl if state else None), (state.kill_switch if state else None)
        defense, exposure = (state.defense_mode if state else None), (state.exposure if state else None)
        self.query_one("#risk-pnl", Static).update(
            f"daily PnL {money(pnl and pnl.daily)}  limit {text(pnl and (pnl.limit_text or pnl.limit))}"
            f"  realized {money(pnl and pnl.realized)}"
        )
        self.query_one(PnlGauge).fraction = used_fraction(pnl)
        self.query_one(Sparkline).data = pnl_series(pnl) or [0.0]
        triggered = kill is not None and kill.state == KillSwitchState.TRIGGERED
        kill_widget = self.query_one("#risk-kill", Static)
        kill_widget.set_class(triggered, "-alert")
        kill_widget.update(
            f"kill sw   TRIGGERED {hhmmss(kill.since_utc)}Z {text(kill.cause)}"
            if triggered and kill is not None
            else f"kill sw   {text(kill and kill.state)}"
        )
        mismatch = state.broker_mismatch if state else None
        books = self.query_one("#risk-books", Static)
        books.update(mismatch_line(mismatch))
        books.set_class(mismatch is not None and mismatch.blocking, "-alert")
        active = defense.active if defense is not None else None
        self.query_one("#risk-defense", Static).update(
            f"defense   {'ON factor ' + text(defense.factor) if active and defense is not None else ('off' if active is False else DASH)}"
        )
        watchdog = state.watchdog if state else None
        dog = self.query_one("#risk-watchdog", Static)
        dog.update(watchdog_line(watchdog))
        dog.set_class(
            watchdog is not None and any(b.state != BeatState.OK for b in (watchdog.broker, watchdog.feed)), "-alert"
        )
        self.query_one("#risk-exposure", Static).update(
            f"exposure  gross {money(exposure and exposure.gross)} / {money(exposure and exposure.gross_limit)}"
            f"  net {money(exposure and exposure.net)}"
        )
        self.query_one("#risk-alloc", Static).update(allocation_line(exposure))
        positions = (state.positions if state else None) or ()
        cells = [f"{text(p.symbol)} {text(p.qty)}@{money(p.avg_price)}" for p in positions]
        self.query_one("#risk-positions", Static).update(
            f"positions {len(positions)}: " + (", ".join(cells) if cells else DASH)
        )
