"""Each control key writes the right flag (via tbot_core.control), dialogs confirm or cancel, acks show."""

from __future__ import annotations

import json

import pytest

from tbot_core.audit import AuditLog
from tbot_core.control import acknowledge, read_flags
from tbot_core.paths import HomePaths

from .conftest import frozen_console, settle
from .console_homes import build_console_home


@pytest.fixture
def home(tmp_path) -> HomePaths:
    return build_console_home(tmp_path / "home", "normal")


def flag_requests(paths: HomePaths, flag: str) -> list:
    return sorted(paths.control_dir.glob(f"control_{flag}.*.flag"))


def flag_payload(paths: HomePaths, flag: str) -> dict | None:
    """The one pending request of ``flag`` (None if there is none)."""
    found = flag_requests(paths, flag)
    assert len(found) <= 1, found
    return json.loads(found[0].read_text()) if found else None


async def wait_for(pilot, condition, tries: int = 150) -> bool:
    for _ in range(tries):
        if condition():
            return True
        await pilot.pause(0.02)
    return condition()


@pytest.mark.parametrize(("key", "flag"), [("s", "start"), ("x", "stop"), ("d", "defense_on"), ("D", "defense_off")])
async def test_control_key_writes_its_flag_with_ui_source_and_operator(home: HomePaths, key: str, flag: str) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(key)
        assert await wait_for(pilot, lambda: flag_payload(home, flag) is not None)
        payload = flag_payload(home, flag)
        assert payload["source"] == "ui" and payload["operator"]["user"]
        assert [p.name.split(".")[0] for p in home.control_dir.glob("*.flag")] == [f"control_{flag}"]
        # the worker thread writes the file, then the app's thread shows the acknowledgement: wait for both
        assert await wait_for(pilot, lambda: f"{flag} requested" in app.ack_text), app.ack_text


async def test_kill_needs_confirmation_enter_writes_flag_with_reason(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("k")
        await pilot.pause()
        assert flag_payload(home, "kill") is None, "no flag before confirming"
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: flag_payload(home, "kill") is not None)
        assert flag_payload(home, "kill")["reason"] == "operator kill from console"


async def test_kill_escape_cancels_and_writes_nothing(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("k", "escape")
        await pilot.pause(0.1)
        assert flag_payload(home, "kill") is None
        assert "kill cancelled" in app.ack_text


async def test_kill_with_empty_reason_is_refused_in_the_dialog(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("k", "ctrl+u")  # clear the suggested reason
        app.screen.query_one("#kill-reason").value = ""
        await pilot.press("enter")
        await pilot.pause(0.1)
        assert flag_payload(home, "kill") is None
        assert "reason is required" in str(app.screen.query_one("#kill-error").render())


@pytest.mark.parametrize(
    ("key", "wrong", "word", "flag"),
    [("R", "reset", "RESET", "reset"), ("A", "RESET", "ACCEPT", "ack_mismatch")],
    ids=["reset the kill switch", "accept a broker mismatch"],
)
async def test_a_resuming_control_refuses_the_wrong_word_then_writes_its_flag_with_the_reason(
    home: HomePaths, key: str, wrong: str, word: str, flag: str
) -> None:
    """No stray key lets trading resume: R (kill switch reset) and A (accept a broker-vs-books mismatch) write
    their flag only once their word, in capitals, and a reason are typed."""
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press(key, *wrong, "enter", *"checked fills", "enter")
        await pilot.pause(0.1)
        assert flag_payload(home, flag) is None, f"only the word {word} confirms"
        assert f"type {word}" in str(app.screen.query_one("#reset-error").render())
        app.screen.query_one("#reset-word").value = ""
        app.screen.query_one("#reset-word").focus()
        await pilot.press(*word, "enter", "enter")
        assert await wait_for(pilot, lambda: flag_payload(home, flag) is not None)
        assert flag_payload(home, flag)["reason"] == "checked fills"


async def test_reset_without_reason_is_refused(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("R", *"RESET", "enter", "enter")
        await pilot.pause(0.1)
        assert flag_payload(home, "reset") is None
        assert "reason is required" in str(app.screen.query_one("#reset-error").render())


async def test_cancelling_the_accept_dialog_writes_nothing(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("A", "escape")
        await pilot.pause(0.1)
        assert flag_requests(home, "ack_mismatch") == []
        assert app.ack_text == "accept cancelled: no flag written"


async def test_core_acknowledgement_from_audit_log_is_shown(home: HomePaths) -> None:
    """The core's real acknowledge() writes the audit row; the console matches it to its own request."""
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: flag_payload(home, "stop") is not None)
        with AuditLog(home.audit_db) as audit:
            flags, _ = read_flags(home, audit)
            acknowledge(home, audit, flags[0], "stopping")
        assert await wait_for(pilot, lambda: "stop acknowledged by core: stopping" in app.ack_text)
        assert "requested elsewhere" not in app.ack_text
        assert flag_requests(home, "stop") == []


async def test_two_stops_pressed_in_a_row_are_two_requests_each_acknowledged(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: len(flag_requests(home, "stop")) == 1)
        await pilot.press("x")
        assert await wait_for(pilot, lambda: len(flag_requests(home, "stop")) == 2), (
            "the second must not replace the first"
        )
        assert len(app.acks.waiting_for()) == 2
        with AuditLog(home.audit_db) as audit:
            flags, _ = read_flags(home, audit)
            acknowledge(home, audit, flags[0], "stopping")
            assert len(flag_requests(home, "stop")) == 1
            acknowledge(home, audit, flags[1], "already stopping")
        assert await wait_for(pilot, lambda: app.acks.waiting_for() == [])
        assert (
            "stop acknowledged by core: already stopping" in app.ack_text and "requested elsewhere" not in app.ack_text
        )
        assert flag_requests(home, "stop") == []


async def test_command_palette_runs_a_control(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.press("ctrl+p")
        await pilot.pause(0.2)
        await pilot.press(*"Stop the core")
        await pilot.pause(0.5)
        await pilot.press("enter")
        assert await wait_for(pilot, lambda: flag_payload(home, "stop") is not None)


async def test_help_lists_every_app_binding(home: HomePaths) -> None:
    app = frozen_console(home.root)
    async with app.run_test(size=(160, 48)) as pilot:
        await settle(pilot)
        await pilot.press("question_mark")
        await pilot.pause(0.1)
        table = app.screen.query_one("#help-table")
        keys = {str(table.get_row_at(i)[0]) for i in range(table.row_count)}
        expected = {b.key_display or b.key for b in app.BINDINGS} | {"/", "ctrl+p"}
        assert expected <= keys
