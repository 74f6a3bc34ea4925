"""End to end in a real terminal (tmux): init, `tbot run`, see the core, lose the terminal, re-attach, stop.

Uses a private tmux server (its own socket) so it never touches anyone's sessions.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest

from tbot_core.paths import HomePaths
from tbot_core.runtime.lock import core_running
from tbot_core.state import read_state

from ..conftest import REPO, run_tbot

TMUX = shutil.which("tmux")
pytestmark = pytest.mark.skipif(TMUX is None, reason="tmux is not installed")


class Tmux:
    def __init__(self) -> None:
        self.socket = f"tbot-e2e-{uuid.uuid4().hex[:8]}"

    def __call__(self, *args: str) -> str:
        done = subprocess.run([TMUX, "-L", self.socket, *args], capture_output=True, text=True, timeout=20)
        return done.stdout

    def start(self, name: str, command: str) -> None:
        self("new-session", "-d", "-s", name, "-x", "120", "-y", "40", command)

    def screen(self, name: str) -> str:
        return self("capture-pane", "-p", "-t", name)

    def wait_for(self, name: str, *needles: str, timeout: float = 45) -> str:
        """Poll the pane until every needle shows (a deadline, not a timing assertion)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.screen(name)
            if all(n in text for n in needles):
                return text
            time.sleep(0.2)
        raise AssertionError(f"pane {name!r} never showed {needles}; last screen:\n{text}")

    def kill_server(self) -> None:
        self("kill-server")


def console_command(home: Path, verb: str) -> str:
    env = f"env TBOT_HOME={home} TERM=xterm-256color PYTHONPATH={REPO}"
    return f"cd {REPO} && {env} {sys.executable} -m tbot_core.cli.main {verb}; sleep 30"


def test_run_shows_core_then_reattach_and_stop(tmp_path: Path) -> None:
    home = tmp_path / "home"
    assert run_tbot("init", home=home).returncode == 0
    paths = HomePaths(home)
    tmux = Tmux()
    try:
        tmux.start("first", console_command(home, "run"))
        first = tmux.wait_for("first", "core ok", "running", "Filter verdicts", "Emergency matrix")
        # The minimal core publishes an empty verdict list; a fuller core fills it.
        assert "no verdicts yet" in first or "ALLOW" in first or "BLOCK" in first

        tmux("kill-session", "-t", "first")  # the operator's terminal goes away (lost SSH)
        time.sleep(0.5)
        assert core_running(paths.core_lock), "closing the console must leave the core running"

        tmux.start("again", console_command(home, "tui"))
        tmux.wait_for("again", "core ok", "running")
        tmux("send-keys", "-t", "again", "x")
        tmux.wait_for("again", "stop acknowledged by core: stopping")
        tmux.wait_for("again", "stopped")
        deadline = time.monotonic() + 20
        while core_running(paths.core_lock) and time.monotonic() < deadline:
            time.sleep(0.1)
        assert not core_running(paths.core_lock), "the core must stop after acknowledging the stop flag"
        assert read_state(paths.state_file).state.mode == "stopped"
        audit = run_tbot("audit", "tail", "--category", "control", home=home)
        assert "flag_stop_acknowledged" in audit.stdout + audit.stderr
    finally:
        tmux.kill_server()
        read = read_state(paths.state_file)
        pid = read.state.core.pid if read.state else None
        if core_running(paths.core_lock) and isinstance(pid, int):
            os.kill(pid, 15)  # the core this test started; SIGTERM is its orderly stop
