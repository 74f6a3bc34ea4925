"""Console fixtures: scenario homes built once per session, and a helper to wait for the first reads."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_core.paths import HomePaths
from tbot_tui.app import TradeBotConsole
from tbot_tui.clock import frozen_clock

from .console_homes import FROZEN_NOW, SCENARIOS, build_console_home


@pytest.fixture(scope="session")
def scenario_homes(tmp_path_factory: pytest.TempPathFactory) -> dict[str, HomePaths]:
    base = tmp_path_factory.mktemp("console_homes")
    return {name: build_console_home(base / name, name) for name in SCENARIOS}


def frozen_console(root: Path | str) -> TradeBotConsole:
    return TradeBotConsole(str(root), clock=frozen_clock(FROZEN_NOW))


async def settle(pilot, *, groups: tuple[str, ...] = ("config", "backtest", "audit-filter", "flags")) -> None:
    """Wait until both sources were read and one-shot workers (config, backtest, filters) finished."""
    app = pilot.app
    for _ in range(200):
        busy = [w for w in app.workers if w.group in groups and w.is_running]
        if app.loaded and not busy:
            break
        await pilot.pause(0.02)
    await pilot.pause()
    await pilot.wait_for_scheduled_animations()
