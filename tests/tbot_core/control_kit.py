"""Helpers shared by the two control-flag mutation test files: a flag record, its bytes, a refusal's text."""

from __future__ import annotations

import json

import pytest

from tbot_core.control import (
    FlagError,
    Operator,
    parse_flag,
)
from tbot_core.paths import HomePaths

NONCE = "0123456789abcdef0123456789abcdef"
WHEN = "2026-03-02T15:00:00.000001Z"
WHEN_STAMP = "20260302T150000000001Z"
ALICE = Operator("alice", "203.0.113.9")


def record(**changes) -> dict:
    base = {
        "flag": "stop",
        "requested_utc": WHEN,
        "operator": {"user": "bob", "ssh_client": None},
        "reason": "by hand",
        "nonce": NONCE,
        "source": "cli",
    }
    return {**base, **changes}


def raw(**changes) -> bytes:
    return json.dumps(record(**changes)).encode()


def refusal(name: str, data: bytes) -> str:
    with pytest.raises(FlagError) as info:
        parse_flag(name, data)
    return str(info.value)


def control_files(paths: HomePaths) -> list[str]:
    return sorted(p.name for p in paths.control_dir.iterdir() if p.name.startswith("control_"))
