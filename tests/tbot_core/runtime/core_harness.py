"""Helpers for scenario tests: a temp home with small data, a real ``tbot core`` subprocess, waits."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths

REPO = Path(__file__).resolve().parents[3]
FAST = {
    "REPLAY_SPEED": "0",
    "WATCHDOG_INTERVAL_SECONDS": "0.05",
    "API_RETRY_BASE_SECONDS": "0.01",
    "RESTART_BACKOFF_SECONDS": "0.05",
    "STATE_WRITE_INTERVAL_MS": "20",
    "SUPERVISOR_STOP_GRACE_SECONDS": "5",
}


def make_home(
    tmp: Path,
    env: dict[str, str],
    *,
    bars: int = 200,
    symbols: tuple[str, ...] = ("SPY", "AAPL"),
    price: Callable[[int], float] = lambda i: 100.0,
) -> HomePaths:
    paths, _ = init_home(tmp / "home")
    overlay = {**FAST, **env}
    paths.plaintext_env.write_text("".join(f"{k}={v}\n" for k, v in overlay.items()))
    write_bars(paths, bars, symbols, price)
    return paths


def write_bars(paths: HomePaths, bars: int, symbols: tuple[str, ...], price: Callable[[int], float]) -> None:
    """``bars`` bars in total, one per symbol per minute, on 2026-01-05 from 14:30 UTC."""
    lines, vix = ["timestamp_utc,symbol,open,high,low,close,volume"], ["timestamp_utc,vix"]
    base = 1767623400  # 2026-01-05T14:30:00Z
    i = 0
    minute = 0
    while i < bars:
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 60 * minute))
        vix.append(f"{ts},18.00")
        for sym in symbols:
            if i >= bars:
                break
            p = price(i)
            lines.append(f"{ts},{sym},{p:.2f},{p + 0.05:.2f},{p - 0.05:.2f},{p:.2f},1000")
            i += 1
        minute += 1
    paths.sample_ohlcv.write_text("\n".join(lines) + "\n")
    paths.sample_vix.write_text("\n".join(vix) + "\n")


def start_core(paths: HomePaths, **faults: object) -> subprocess.Popen[str]:
    """A real core subprocess: ``tbot core`` itself, or with ``faults`` the same core wired with tests/fakes."""
    env = {**os.environ, "TBOT_HOME": str(paths.root)}
    if faults:
        cmd = [
            sys.executable,
            "-m",
            "tests.fakes.core_main",
            "--home",
            str(paths.root),
            *(f"--fault={key}={value}" for key, value in faults.items()),
        ]
    else:
        cmd = [sys.executable, "-m", "tbot_core", "--home", str(paths.root)]
    return subprocess.Popen(cmd, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def state(paths: HomePaths) -> dict[str, Any]:
    try:
        return json.loads(paths.state_file.read_text())
    except (FileNotFoundError, ValueError):
        return {}


def wait_for(predicate: Callable[[], Any], what: str, timeout: float = 20.0) -> Any:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def audit_events(paths: HomePaths, event: str | None = None) -> list[tuple[str, str, dict]]:
    with AuditLog(paths.audit_db, readonly=True) as log:
        rows = [(r.category, r.event, r.context_dict()) for r in log.iter_rows()]
    return [r for r in rows if event is None or r[1] == event]


def matrix_row(paths: HomePaths, key: str) -> dict[str, Any]:
    return next(r for r in state(paths).get("emergency_matrix", []) if r["key"] == key)


def stop_core(proc: subprocess.Popen[str], timeout: float = 20.0) -> int:
    if proc.poll() is None:
        proc.terminate()
    return proc.wait(timeout)
