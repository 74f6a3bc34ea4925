"""Fixtures the ledger tests share: a fresh ledger, an audit log, and a version-1 ledger to migrate."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_core.audit import AuditLog
from tbot_core.paths import HomePaths

from .helpers import fresh_ledger
from .v1_ledger import write_v1_ledger


@pytest.fixture
def books(tmp_path: Path) -> Path:
    return fresh_ledger(tmp_path)


@pytest.fixture
def audit(tmp_path: Path):
    with AuditLog(tmp_path / "audit.db") as log:
        yield log


@pytest.fixture
def v1_db(tmp_path: Path) -> Path:
    return write_v1_ledger(tmp_path / "ledger.db")


@pytest.fixture
def backup(tmp_path: Path) -> Path:
    return HomePaths(tmp_path / "home").ledger_backup("20250102T143000000000Z")
