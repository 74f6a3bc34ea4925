"""The gate's real parts for its in-process tests: a gate from the real module registry over a real home and its
hash-chained audit log, and what the tests read back (the verdicts' modules, the strategy log)."""

from __future__ import annotations

import pytest

from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.gate import Gate
from tbot_core.signals import MarketContext
from tests.fakes.gate_faults import UnsavableBlocklist
from tests.tbot_core.enhancements.helpers import IDENTITY, snap

GOOD_MID = MarketContext({"AAPL": snap(close=97.0), "MSFT": snap(close=97.0)})
ENTRY = "allowed by {} check(s)"


@pytest.fixture
def audit(home_paths):
    with AuditLog(home_paths.audit_db) as log:
        yield log


@pytest.fixture
def gate(home_paths, audit):
    return Gate(Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper")


def unsavable_gate(home_paths, audit) -> Gate:
    """The real gate whose ticker blocklist is on a full disk: every save of ``run/session.json`` fails."""
    return Gate(
        Settings(),
        IDENTITY,
        home_paths,
        audit=audit,
        broker_code="paper",
        replace={"ticker_blocklist": UnsavableBlocklist},
    )


def modules(decision) -> list[str]:
    return [v.module for v in decision.verdicts]


def strategy_log(home_paths, fmt: str = "JSON") -> str:
    path = home_paths.strategy_log(IDENTITY.BOT_IDENTITY, fmt)
    return path.read_text() if path.exists() else ""
