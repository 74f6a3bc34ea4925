"""Ledger connections: the project's APSW settings plus full durability.

A committed batch is money the operator relies on, so the ledger syncs the WAL
on every COMMIT (``synchronous=FULL``) instead of the NORMAL the other
databases use.
"""

from __future__ import annotations

from pathlib import Path

import apsw

from tbot_core.db import connect
from tbot_core.errors import TbotError


def open_ledger(path: Path, *, readonly: bool = False, vfs: str | None = None) -> apsw.Connection:
    if readonly and not path.exists():
        raise TbotError(f"{path.name}: ledger database not found", hint="run `tbot init` first")
    try:
        conn = connect(path, readonly=readonly, vfs=vfs)
        if not readonly:
            conn.execute("PRAGMA synchronous=FULL")
    except apsw.Error as exc:
        raise TbotError(f"{path.name}: cannot open ledger database ({type(exc).__name__})") from None
    return conn
