"""A real ``tbot serve`` subprocess on 127.0.0.1 for the web tests, and what they read back (audit rows)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tbot_core.secrets.store import SecretStore
from tests.tbot_core.runtime.core_harness import wait_for as _wait_for

REPO = Path(__file__).resolve().parents[2]
USER, PASSWORD = "alice", "correct-horse-battery-7"
READY = "tbot serve: console"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def served_home(tmp: Path, *, password: str = PASSWORD, paths: HomePaths | None = None) -> HomePaths:
    """A paper home (or ``paths``) with the web_console login set through the real vault."""
    if paths is None:
        paths, _ = init_home(tmp / "home")
    SecretStore(BotHome(str(paths.root))).set("web_console", {"user": USER, "password": password})
    return paths


def run_tbot(*args: str, stdin: str | None = None, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "tbot_core.cli.main", *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=timeout,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


class Served:
    """``tbot serve --home ROOT --port P ...``: started, waited for, stopped with SIGTERM."""

    def __init__(self, paths: HomePaths, *extra: str) -> None:
        self.paths = paths
        self.port = free_port()
        self.base = f"http://127.0.0.1:{self.port}"
        self.origin = self.base
        cmd = [
            sys.executable,
            "-m",
            "tbot_core.cli.main",
            "serve",
            "--home",
            str(paths.root),
            "--port",
            str(self.port),
            *extra,
        ]
        self.proc = subprocess.Popen(
            cmd,
            cwd=REPO,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        if READY not in line:
            self.proc.kill()
            _out, err = self.proc.communicate(timeout=10)
            raise AssertionError(f"tbot serve did not start: {line!r} {err[-2000:]!r}")

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
        try:
            self.proc.communicate(timeout=20)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.communicate(timeout=10)
        return self.proc.returncode

    def __enter__(self) -> Served:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def web_rows(paths: HomePaths, event: str | None = None) -> list[tuple[str, dict[str, Any], str]]:
    """(event, context, raw context text) of every ``web`` audit row, oldest first."""
    with AuditLog(paths.audit_db, readonly=True) as log:
        rows = [r for r in log.iter_rows() if r.category == "web" and (event is None or r.event == event)]
    return [(r.event, json.loads(r.context), r.context) for r in rows]


def all_audit_text(paths: HomePaths) -> str:
    with AuditLog(paths.audit_db, readonly=True) as log:
        return "\n".join(f"{r.event} {r.context}" for r in log.iter_rows())


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 30.0) -> Any:
    """The core harness's wait, with the longer default a browser and a served console need."""
    return _wait_for(predicate, what, timeout)
