"""Open positions and recent orders."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.widgets import DataTable, Static

from tbot_core.state import StateRead
from tbot_tui.screens.base import ConsoleScreen
from tbot_tui.view import hhmmss, money, text


class PositionsScreen(ConsoleScreen):
    def compose_body(self) -> ComposeResult:
        yield Static("Open positions", classes="screen-title")
        yield DataTable(id="positions-table", cursor_type="row", classes="half-table")
        yield Static("Recent orders (newest first)", classes="screen-title")
        yield DataTable(id="orders-table", cursor_type="row", classes="half-table")

    def on_mount(self) -> None:
        self.query_one("#positions-table", DataTable).add_columns(
            "symbol", "qty", "avg price", "last", "value", "unrealized", "strategy"
        )
        self.query_one("#orders-table", DataTable).add_columns(
            "time", "order", "symbol", "side", "qty", "status", "strategy"
        )
        self.watch(self.app, "state_read", self._on_state, init=True)

    def _on_state(self, read: StateRead | None) -> None:
        state = read.state if read else None
        positions = self.query_one("#positions-table", DataTable)
        positions.clear()
        for p in (state.positions if state else None) or ():
            positions.add_row(
                text(p.symbol),
                text(p.qty),
                money(p.avg_price),
                money(p.last_price),
                money(p.market_value),
                money(p.unrealized_pnl),
                text(p.strategy),
            )
        if not positions.row_count:
            positions.add_row("—", "no open positions", "", "", "", "", "")
        orders = self.query_one("#orders-table", DataTable)
        orders.clear()
        for o in (state.orders if state else None) or ():
            orders.add_row(
                hhmmss(o.submitted_utc),
                text(o.order_id),
                text(o.symbol),
                text(o.side),
                text(o.qty),
                text(o.status),
                text(o.strategy),
            )
        if not orders.row_count:
            orders.add_row("—", "no orders yet", "", "", "", "", "")
