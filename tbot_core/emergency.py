"""The seed's Emergency Event Matrix and Emergency Shutdown Table, as data.

The core publishes each row's live state in ``state.json``; the console shows
it; the scenario tests drive each row.  Row keys are stable identifiers.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class MatrixRow:
    key: str
    event: str
    detection: str
    scope: str
    response: str
    reboot: bool


EMERGENCY_MATRIX: tuple[MatrixRow, ...] = (
    MatrixRow(
        "daily_loss", "PnL Loss > DAILY_LOSS_LIMIT", "kill_switch.py", "Broker", "Halt broker, emit audit+notify", False
    ),
    MatrixRow(
        "broker_down",
        "Broker API Down",
        "watchdog_bot.py",
        "Broker",
        "Suspend broker; supervisor continues health checks",
        False,
    ),
    MatrixRow("feed_down", "Market Data Down", "watchdog_bot.py", "All", "Supervisor issues controlled stop", True),
    MatrixRow(
        "decrypt_fail", ".env_bot Decryption Fail", "security_bot.py", "All", "Block launch; log sanitized error", True
    ),
    MatrixRow(
        "logic_error",
        "Logic Error",
        "error_handler.py",
        "Varies",
        "Classify -> retry/backoff; escalate if critical",
        True,
    ),
    MatrixRow("defense_mode", "Defense Mode On", "risk_bot.py+.env", "All", "Compress risk parameters", False),
    MatrixRow("validation_fail", "Validation Fail (risk/config)", "risk_bot.py", "Broker", "Block trade; log", False),
    MatrixRow(
        "manual_shutdown", "Manual Shutdown", "control_stop.flag", "Any", "Supervisor orchestrates safe shutdown", True
    ),
    MatrixRow(
        "schema_fail",
        "System File/Schema Fail",
        "build_check.py",
        "All",
        "Abort launch; log & require remediation",
        True,
    ),
)

MATRIX_KEYS = tuple(row.key for row in EMERGENCY_MATRIX)
ROW_STATES = ("armed", "triggered", "cleared")


def matrix_row(key: str) -> MatrixRow:
    for row in EMERGENCY_MATRIX:
        if row.key == key:
            return row
    raise KeyError(key)


@dataclass(frozen=True)
class ShutdownRow:
    event: str
    scope: str
    action: str
    matrix_key: str


EMERGENCY_SHUTDOWN_TABLE: tuple[ShutdownRow, ...] = (
    ShutdownRow("DAILY_LOSS_LIMIT breach", "Global", "Immediate halt via kill_switch; audit+notify", "daily_loss"),
    ShutdownRow("Broker API failure", "Global", "Watchdog triggers suspend; supervisor handles", "broker_down"),
    ShutdownRow("Market data failure", "Global", "Supervisor-initiated controlled stop", "feed_down"),
    ShutdownRow("Critical exception", "Global", "Fatal: safe shutdown via supervisor", "logic_error"),
    ShutdownRow("Manual override", "Scoped", "Controlled shutdown/reset via start/stop flags", "manual_shutdown"),
)
