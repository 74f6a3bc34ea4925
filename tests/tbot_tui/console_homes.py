"""Fixture homes for the console: a real initialised home, a fixture state.json and a real audit db.

The state is a ``CoreState`` from ``console_states.py`` written by the core's
own ``StateWriter``, and the audit rows go through the real ``AuditLog`` (so
the hash chain is valid); both with their clocks pinned, which makes every
snapshot byte-identical.
"""

from __future__ import annotations

import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

import tbot_core.audit
import tbot_core.state
from tbot_core.audit import AuditEvent, AuditLog
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tbot_core.state import CoreState, StateWriter

from .console_states import SCENARIO_STATES

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "console"
FROZEN_NOW = "2026-03-02T15:30:00.000000Z"
AUDIT_TS = "2026-03-02T15:29:30.000000Z"
IDENTITY = "TBOT_PAPER_01"
SCENARIOS = ("normal", "kill_triggered", "watchdog_suspended", "core_down")

_BASE_EVENTS = [
    AuditEvent("supervisor", "core_starting", {"pid": 4242, "version": "0.1.0"}),
    AuditEvent("startup", "self_check_passed", {"checks": 8}),
    AuditEvent("supervisor", "core_started", {"pid": 4242, "checks": 8}),
    AuditEvent(
        "control",
        "flag_defense_on_acknowledged",
        {
            "flag": "defense_on",
            "operator": "alice",
            "ssh_client": "10.0.0.7",
            "reason": "",
            "source": "ui",
            "nonce": "0" * 32,
            "outcome": "done",
        },
    ),
    AuditEvent(
        "control",
        "flag_defense_off_acknowledged",
        {
            "flag": "defense_off",
            "operator": "alice",
            "ssh_client": "10.0.0.7",
            "reason": "",
            "source": "ui",
            "nonce": "1" * 32,
            "outcome": "done",
        },
    ),
    AuditEvent(
        "filters", "trade_blocked", {"module": "adx_filter", "symbol": "MSFT", "reason": "ADX 31.2 > 25"}, "info"
    ),
    AuditEvent("broker", "order_filled", {"order_id": "P-000017", "symbol": "AMD", "qty": "40"}),
    AuditEvent("error_handler", "network_retry", {"attempt": 2, "error_type": "NetworkError"}, "warning"),
]
_SCENARIO_EVENTS = {
    "kill_triggered": [
        AuditEvent("kill_switch", "kill_switch_triggered", {"daily_pnl": "-2050.00", "limit": "2018.61"}, "critical")
    ],
    "watchdog_suspended": [
        AuditEvent("watchdog", "broker_suspended", {"age_seconds": 42.7, "threshold_seconds": 10.0}, "error")
    ],
    "core_down": [],
    "normal": [],
}


def build_console_home(root: Path, scenario: str) -> HomePaths:
    """A paper home showing ``scenario``: its state from console_states.py and a pinned-clock audit db."""
    with pinned_audit_clock():
        paths, _ = init_home(root)
    write_state(paths, SCENARIO_STATES[scenario]())
    if scenario == "normal":
        shutil.copyfile(FIXTURES / "daily_summary_backtest.json", paths.backtest_daily_summary(IDENTITY))
    write_pinned_audit(paths, [*_BASE_EVENTS, *_SCENARIO_EVENTS[scenario]])
    return paths


def write_state(paths: HomePaths, state: CoreState) -> None:
    """``state`` as the core writes it (sanitized, atomic), stamped with its own ``written_utc``."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tbot_core.state, "iso_z", lambda *_: state.written_utc)
        StateWriter(paths.state_file).write(state, force=True)


@contextmanager
def pinned_audit_clock(ts: str = AUDIT_TS) -> Iterator[None]:
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(tbot_core.audit, "iso_z", lambda *_: ts)
        yield


def write_pinned_audit(paths: HomePaths, events: list[AuditEvent]) -> None:
    with pinned_audit_clock(), AuditLog(paths.audit_db) as log:
        log.append_many(events)
