"""The main screen's two layouts (tabs below 120x34, a 2x2 grid above) and which acknowledgements pop up."""

from __future__ import annotations

import pytest
from textual.widgets import TabbedContent, TabPane

from tbot_core.audit import AuditLog
from tbot_core.control import acknowledge, read_flags, write_flag
from tbot_core.paths import HomePaths

from .conftest import frozen_console, settle
from .console_homes import build_console_home

PANES = ["tab-verdicts", "tab-risk", "tab-matrix", "tab-audit"]


@pytest.fixture
def home(tmp_path) -> HomePaths:
    return build_console_home(tmp_path / "home", "normal")


def shown_panes(app) -> list[str]:
    return [pane.id for pane in app.screen.query(TabPane) if pane.display]


async def wait_for(pilot, condition, tries: int = 150) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


def record_toasts(app) -> list[str]:
    toasts: list[str] = []
    app.notify = lambda message, **_kw: toasts.append(message)
    return toasts


async def test_80x24_shows_one_full_width_panel_and_brackets_switch_tabs(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert app.screen.has_class("-tabs")
        assert shown_panes(app) == ["tab-verdicts"]
        assert app.screen.query_one("#verdicts").size.width == 80, "a tab panel uses the full width"
        seen = []
        for _ in PANES:
            await pilot.press("right_square_bracket")
            await pilot.pause()
            seen.append(shown_panes(app))
        assert seen == [["tab-risk"], ["tab-matrix"], ["tab-audit"], ["tab-verdicts"]]
        await pilot.press("left_square_bracket")
        await pilot.pause()
        assert shown_panes(app) == ["tab-audit"]
        assert app.focused is not None and app.screen.query_one("#tab-audit") in app.focused.ancestors, (
            "focus follows the shown panel, so keys act on what the operator sees"
        )


async def test_80x24_left_right_on_the_tab_bar_switch_panels(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        app.screen.query_one("ContentTabs").focus()
        await pilot.press("right", "right")
        await pilot.pause()
        assert app.screen.query_one(TabbedContent).active == "tab-matrix"
        assert shown_panes(app) == ["tab-matrix"]


async def test_slash_in_tabs_layout_opens_the_audit_tab_with_the_search_box(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("slash")
        await pilot.pause()
        assert shown_panes(app) == ["tab-audit"] and app.focused.id == "audit-search"


async def test_160x48_is_a_grid_and_resizing_toggles_the_layout(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        assert app.screen.has_class("-grid") and shown_panes(app) == PANES
        assert not app.screen.query_one("ContentTabs").display
        await pilot.press("tab", "tab", "tab")  # focus moving through the grid must not collapse it
        await pilot.pause()
        assert shown_panes(app) == PANES
        await pilot.resize_terminal(100, 30)
        assert await wait_for(pilot, lambda: app.screen.has_class("-tabs") and len(shown_panes(app)) == 1)
        await pilot.resize_terminal(160, 48)
        assert await wait_for(pilot, lambda: app.screen.has_class("-grid") and shown_panes(app) == PANES)


async def test_help_lists_the_panel_keys(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        table = app.screen.query_one("#help-table")
        keys = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        assert {"[", "]", "left,right"} <= keys


async def test_history_acknowledgements_neither_toast_nor_fill_the_ack_line(home: HomePaths) -> None:
    """The fixture's audit log already holds two acks from before the console started."""
    app = frozen_console(home.root)
    toasts = record_toasts(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause(0.2)  # a few more polls
        assert any(r.event.endswith("_acknowledged") for r in app.audit_ring), "the fixture must hold history acks"
        assert toasts == [] and app.ack_text == ""


async def test_ack_of_a_flag_written_elsewhere_goes_to_the_ack_line_without_a_toast(home: HomePaths) -> None:
    app = frozen_console(home.root)
    toasts = record_toasts(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        write_flag(home, "defense_on", source="cli")
        with AuditLog(home.audit_db) as audit:
            flags, _ = read_flags(home, audit)
            acknowledge(home, audit, flags[0], "done")
        assert await wait_for(pilot, lambda: "defense_on acknowledged by core: done" in app.ack_text)
        assert "requested elsewhere" in app.ack_text and toasts == []


async def test_ack_of_this_consoles_own_flag_toasts(home: HomePaths) -> None:
    app = frozen_console(home.root)
    toasts = record_toasts(app)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: any(home.control_dir.glob("control_stop.*.flag")))
        with AuditLog(home.audit_db) as audit:
            flags, _ = read_flags(home, audit)
            acknowledge(home, audit, flags[0], "stopping")
        assert await wait_for(pilot, lambda: len(toasts) == 1)
        assert "stop acknowledged by core: stopping" in toasts[0]
