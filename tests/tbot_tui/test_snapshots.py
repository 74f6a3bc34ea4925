"""Every screen and dialog at 80x24 and 160x48, for each fixture scenario, with a frozen clock.

Scenarios: normal, kill switch triggered, watchdog suspended, core down (state.json
3.5 minutes old by the frozen clock). Regenerate with ``--snapshot-update`` after a
deliberate change and look at the SVGs in ``__snapshots__/``.
"""

from __future__ import annotations

import pytest

from .conftest import frozen_console, settle
from .console_homes import SCENARIOS

SCREENS = {
    "main": (),
    "selfcheck": ("2",),
    "tuning": ("3",),
    "positions": ("4",),
    "config": ("5",),
    "backtest": ("6",),
    "help": ("question_mark",),
    "kill_dialog": ("k",),
    "reset_dialog": ("R",),
}
SIZES = {"80x24": (80, 24), "160x48": (160, 48)}


@pytest.mark.parametrize("size", SIZES)
@pytest.mark.parametrize("screen", SCREENS)
@pytest.mark.parametrize("scenario", SCENARIOS)
def test_screen_matches_snapshot(snap_compare, scenario_homes, scenario: str, screen: str, size: str) -> None:
    """The screen renders exactly as approved for this scenario and terminal size."""
    app = frozen_console(scenario_homes[scenario].root)

    async def run_before(pilot) -> None:
        await settle(pilot)
        for key in SCREENS[screen]:
            await pilot.press(key)
        await settle(pilot)

    assert snap_compare(app, terminal_size=SIZES[size], run_before=run_before)
