"""The console in a real browser: headless Chromium from the OS packages, driven by Playwright's Python API.

Chromium is ``/usr/bin/chromium`` (``.ci/run`` installs the Debian package when it
is missing; never ``playwright install``). The page's terminal is a canvas, so
what the console drew is read from the websocket frames the page received, and
a screenshot of each run is kept under the test's tmp folder.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tbot_core.control import pending
from tests.tbot_core.runtime.core_harness import audit_events, make_home, start_core, state, stop_core
from tests.tbot_core.runtime.core_harness import wait_for as core_wait_for

from .web_harness import PASSWORD, USER, Served, served_home, web_rows

if TYPE_CHECKING:
    from playwright.sync_api import Browser

CHROMIUM = Path("/usr/bin/chromium")
pytestmark = pytest.mark.skipif(
    not CHROMIUM.exists(), reason="no /usr/bin/chromium: `.ci/run` installs it (apt-get install chromium)"
)
VIEWPORT = {"width": 1280, "height": 800}


class Page:
    """One browser page on a served console, keeping every websocket frame it receives."""

    def __init__(self, browser: Browser, served: Served) -> None:
        self.served = served
        self.frames: list[bytes] = []
        self.page = browser.new_page(viewport=VIEWPORT)
        self.page.route("**/fonts.googleapis.com/**", lambda route: route.abort())  # the web font cannot load here
        self.page.on("websocket", lambda ws: ws.on("framereceived", self._frame))

    def _frame(self, payload: bytes | str) -> None:
        self.frames.append(payload if isinstance(payload, bytes) else payload.encode())

    @property
    def drawn(self) -> bytes:
        return b"".join(self.frames)

    def login(self, password: str) -> None:
        self.page.goto(f"{self.served.base}/")
        assert self.page.url.endswith("/login")
        self.page.fill("#user", USER)
        self.page.fill("#password", password)
        self.page.click("#submit")

    def until_drawn(self, *texts: bytes, timeout_ms: int = 60_000) -> None:
        """Wait (letting Playwright deliver frame events: a plain sleep would not) until every text was drawn."""
        for _ in range(timeout_ms // 50):
            if all(t in self.drawn for t in texts):
                return
            self.page.wait_for_timeout(50)
        missing = [t for t in texts if t not in self.drawn]
        raise AssertionError(f"timed out waiting for the console to draw {missing}")

    def keys(self, *keys: str) -> None:
        self.page.click("#terminal")
        for key in keys:
            self.page.keyboard.press(key)


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path=str(CHROMIUM))
        yield chromium
        chromium.close()


def test_browser_login_refuses_a_wrong_password_then_shows_the_read_only_console_where_the_stop_key_does_nothing(
    browser, tmp_path
):
    paths = served_home(tmp_path)
    with Served(paths) as served:
        page = Page(browser, served)
        page.login("wrong-password-1")
        assert page.page.url.endswith("/login") and "wrong user or password" in page.page.inner_text("#problem")
        page.login(PASSWORD)
        page.page.wait_for_selector("body.-first-byte")
        page.until_drawn(b"Filter verdicts", b"Risk state", b"Emergency matrix", b"Audit log", b"read-only view")
        page.page.screenshot(path=str(tmp_path / "console_read_only.png"))
        page.keys("x", "s", "k", "?")  # stop, start and kill are not bound here; help is, and comes after them
        page.until_drawn(b"Keys (Esc closes")
        page.page.screenshot(path=str(tmp_path / "help_read_only.png"))
        page.page.close()
    assert (tmp_path / "console_read_only.png").stat().st_size > 10_000
    assert b"Stop the core" not in page.drawn and b"Kill switch" not in page.drawn
    assert pending(paths) == [] and not any(p.name.endswith(".flag") for p in paths.control_dir.iterdir())
    assert [e for e, _ctx, _raw in web_rows(paths) if e.startswith("login")] == ["login_failed", "login"]


def test_browser_with_allow_control_sends_a_stop_that_a_real_core_acknowledges_naming_the_web_login(browser, tmp_path):
    paths = served_home(tmp_path, paths=make_home(tmp_path, {}))
    core = start_core(paths)
    try:
        core_wait_for(lambda: state(paths).get("mode") in {"running", "defense"}, "core running", timeout=120)
        with Served(paths, "--allow-control") as served:
            page = Page(browser, served)
            page.login(PASSWORD)
            page.page.wait_for_selector("body.-first-byte")
            page.until_drawn(b"Emergency matrix", b"control flags are sent as operator alice")
            page.keys("x")
            acks = core_wait_for(
                lambda: audit_events(paths, "flag_stop_acknowledged"), "the core's stop acknowledgement", timeout=120
            )
            page.until_drawn(b"stop acknowledged by core")
            page.page.screenshot(path=str(tmp_path / "console_stop_acknowledged.png"))
            page.page.close()
        assert core.wait(60) == 0
    finally:
        if core.poll() is None:
            stop_core(core)
    ack = acks[-1][2]
    assert ack["operator"] == USER and ack["source"] == "ui" and ack["ssh_client"].startswith("web")
    assert ack["outcome"] == "stopping"
