"""Ledger connections: the project's APSW settings plus full durability.

A committed batch is money the operator relies on, so the ledger syncs the WAL
on every COMMIT (``synchronous=FULL``) instead of the NORMAL the other
databases use.

A writer also keeps SQLite's temporary files in memory (``temp_store=MEMORY``).
The no-REPLACE triggers make every row of a batch's ``executemany`` a
statement that may write several rows, so SQLite opens a statement journal
per row; past 64 KiB that journal spills to a temporary file on disk and
stays there for the rest of the transaction, and measured (perf) the kernel
writes to it were about half of a posting's insert time.  In memory it holds
a few pages per row at a time; nothing in it needs to survive a crash (the
WAL does that).
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
            conn.execute("PRAGMA temp_store=MEMORY")
    except apsw.Error as exc:
        raise TbotError(f"{path.name}: cannot open ledger database ({type(exc).__name__})") from None
    return conn
