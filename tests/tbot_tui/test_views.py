"""Filters, search, live audit updates, and banners for every broken source (the console keeps running)."""

from __future__ import annotations

import apsw
import pytest
from textual.widgets import DataTable, RichLog, Select

from tbot_core.audit import AuditLog
from tbot_core.paths import HomePaths

from .conftest import frozen_console, settle
from .console_homes import build_console_home


@pytest.fixture
def home(tmp_path) -> HomePaths:
    return build_console_home(tmp_path / "home", "normal")


def log_lines(app) -> list[str]:
    return [line.text for line in app.screen.query_one("#audit-log", RichLog).lines]


def verdict_cells(app, column: int) -> list[str]:
    table = app.screen.query_one("#verdict-table", DataTable)
    return [str(table.get_row_at(i)[column]) for i in range(table.row_count)]


async def wait_for(pilot, condition, tries: int = 150) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


async def test_verdict_outcome_filter_shows_only_blocks(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert set(verdict_cells(app, 1)) == {"ALLOW", "BLOCK"}
        app.screen.query_one("#verdict-outcome", Select).value = "block"
        await pilot.pause(0.05)
        assert verdict_cells(app, 1) and set(verdict_cells(app, 1)) == {"BLOCK"}


async def test_verdict_module_filter_by_keyboard(home: HomePaths) -> None:
    """Keyboard only: tab to the module select, open it, pick the first module."""
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        select = app.screen.query_one("#verdict-module", Select)
        while app.focused is not select:
            await pilot.press("tab")
        await pilot.press("enter", "down", "enter")
        await pilot.pause(0.05)
        assert select.value == "adx_filter"  # options are sorted; index 0 is the "all" prompt
        assert set(verdict_cells(app, 3)) == {"adx_filter"}


async def test_audit_search_narrows_the_tail(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert any("supervisor/core_started" in line for line in log_lines(app))
        await pilot.press("slash", *"network")
        assert await wait_for(pilot, lambda: len(log_lines(app)) == 1)
        assert "error_handler/network_retry" in log_lines(app)[0]


async def test_audit_category_and_severity_filters(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.query_one("#audit-category", Select).value = "control"
        assert await wait_for(pilot, lambda: log_lines(app) and all("control/" in line for line in log_lines(app)))
        assert len(log_lines(app)) == 2
        app.screen.query_one("#audit-category", Select).clear()
        app.screen.query_one("#audit-severity", Select).value = "warning"
        assert await wait_for(pilot, lambda: len(log_lines(app)) == 1 and "WARN" in log_lines(app)[0])


async def test_new_audit_rows_appear_live_and_respect_filter(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        app.screen.query_one("#audit-severity", Select).value = "error"
        await pilot.pause(0.1)
        with AuditLog(home.audit_db) as audit:
            audit.append("watchdog", "feed_stale", {"age_seconds": 20}, severity="error")
            audit.append("supervisor", "tick", {})
        assert await wait_for(pilot, lambda: any("watchdog/feed_stale" in line for line in log_lines(app)))
        assert not any("supervisor/tick" in line for line in log_lines(app))


async def test_missing_state_shows_core_down_banner(home: HomePaths) -> None:
    home.state_file.unlink()
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        banner = str(app.screen.query_one(".core-banner").render())
        assert "CORE MISSING" in banner and "tbot run" in banner


async def test_garbled_state_shows_banner_and_console_keeps_running(home: HomePaths) -> None:
    home.state_file.write_text('{"schema": 1, "mode": ')
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "CORE GARBLED" in str(app.screen.query_one(".core-banner").render())
        await pilot.press("2", "1")
        assert app.is_running


async def test_missing_audit_db_shows_banner(home: HomePaths) -> None:
    for suffix in ("", "-wal", "-shm"):
        home.audit_db.with_name(home.audit_db.name + suffix).unlink(missing_ok=True)
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert "AUDIT LOG: audit.db not found" in str(app.screen.query_one(".core-banner").render())


async def test_locked_audit_db_shows_banner_then_recovers(home: HomePaths) -> None:
    """A writer holding an exclusive lock costs the console a banner, not a freeze; it recovers on release."""
    holder = apsw.Connection(str(home.audit_db))
    holder.execute("PRAGMA locking_mode=EXCLUSIVE")
    holder.execute("BEGIN EXCLUSIVE")
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        assert await wait_for(pilot, lambda: "locked" in app.audit_problem or "unreadable" in app.audit_problem)
        assert "AUDIT LOG:" in str(app.screen.query_one(".core-banner").render())
        assert app.is_running
        holder.execute("ROLLBACK")
        holder.close()
        assert await wait_for(pilot, lambda: app.audit_problem == "" and app.audit_seq > 0, tries=300)


async def test_config_screen_shows_the_published_config_and_never_opens_the_vault(home: HomePaths) -> None:
    """The console reads state.json only: with the vault's key gone it still shows the core's redacted config."""
    (home.root / "vault" / "current" / "keys" / "fernet.key").write_bytes(b"garbage")
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        table = app.screen.query_one("#config-table", DataTable)
        keys = [str(table.get_row_at(i)[0]) for i in range(table.row_count)]
        assert "DAILY_LOSS_LIMIT" in keys and "BROKER" in keys


async def test_config_screen_without_a_core_says_how_to_see_the_config(home: HomePaths) -> None:
    home.state_file.unlink()
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("5")
        await settle(pilot)
        assert app.screen.query_one("#config-table", DataTable).row_count == 0
        assert "tbot config show" in str(app.screen.query_one("#config-error").render())
