"""The wheel built from a clone carries the console's stylesheet, and the installed console loads it."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]

PROBE = """
import asyncio, sys
from pathlib import Path
import tbot_core, tbot_tui
from tbot_tui.app import TradeBotConsole
site = Path(sys.argv[1]).resolve()
assert Path(tbot_tui.__file__).resolve().is_relative_to(site), tbot_tui.__file__
assert Path(tbot_core.__file__).resolve().is_relative_to(site), tbot_core.__file__
css = Path(TradeBotConsole.CSS_PATH)
assert css.resolve().is_relative_to(site) and not css.is_symlink(), css

async def main():
    app = TradeBotConsole(sys.argv[2])
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        sources = [str(path) for path, _ in app.stylesheet.source]
        assert any(source.endswith("tbot.tcss") for source in sources), sources
        banner = app.screen.query(".core-banner").first()  # core down: the banner shows, styled by tbot.tcss
        assert banner.styles.max_height is not None and banner.styles.max_height.value == 3, banner.styles.max_height
        assert "bold" in str(banner.styles.text_style), banner.styles.text_style
        print("styles loaded from", css)

asyncio.run(main())
"""


def test_wheel_carries_tbot_tcss_and_the_installed_console_opens_with_its_styles(tmp_path):
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "--no-deps", "-q", "-w", str(wheels), str(REPO)],
        check=True,
        capture_output=True,
        text=True,
    )
    (wheel,) = wheels.glob("tradebot-*.whl")
    with zipfile.ZipFile(wheel) as archive:
        payload = archive.read("tbot_tui/tbot.tcss")
    assert payload == (REPO / "tbot.tcss").read_bytes()  # the top-level file itself, not a link
    site = tmp_path / "site"
    subprocess.run(
        [sys.executable, "-m", "pip", "install", "--no-deps", "-q", "--target", str(site), str(wheel)],
        check=True,
        capture_output=True,
        text=True,
    )
    home = tmp_path / "no_home_yet"  # the console opens without a core: it shows "core down", styled
    env = {**os.environ, "PYTHONPATH": str(site), "TBOT_HOME": str(home)}
    probe = subprocess.run(
        [sys.executable, "-c", PROBE, str(site), str(home)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert probe.returncode == 0, probe.stdout + probe.stderr
    assert "styles loaded from" in probe.stdout
