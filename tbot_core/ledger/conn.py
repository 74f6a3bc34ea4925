"""Ledger connections: the project's APSW settings plus full durability.

A committed batch is money the operator relies on, so the ledger syncs the WAL
on every COMMIT (``synchronous=FULL``) instead of the NORMAL the other
databases use.

A writer also keeps SQLite's temporary files in memory (``temp_store=MEMORY``).
A batch's rows go in by multi-row INSERTs under constraints and foreign keys
(and any other writer's inserts fire the no-REPLACE triggers), statements that
may fail halfway, so SQLite opens a statement journal for each; past 64 KiB
that journal spills to a temporary file on disk and stays there for the rest
of the transaction, and measured (perf) the kernel writes to it were about
half of a posting's insert time.  In memory it holds the pages of one
statement at a time; nothing in it needs to survive a crash (the WAL does
that).

And a writer's page cache holds a whole large batch (``cache_size``, 16 MiB
at most, allocated only as pages are used).  With SQLite's default 2 MiB a
100,000-leg batch outgrew it: SQLite wrote dirty pages to the WAL before the
COMMIT and read them back for each index insert or trigger lookup that
touched them again (measured: ~5,000 extra reads and ~1,800 extra writes, about
a fifth of the insert time).  Durability is unchanged: the WAL and COMMIT do
that, not the cache.
"""

from __future__ import annotations

from pathlib import Path

import apsw

from tbot_core.db import connect
from tbot_core.errors import TbotError

WRITER_CACHE_KIB = 16 * 1024  # see the module docstring: a large batch's pages stay in memory until its COMMIT


def open_ledger(path: Path, *, readonly: bool = False, vfs: str | None = None) -> apsw.Connection:
    if readonly and not path.exists():
        raise TbotError(f"{path.name}: ledger database not found", hint="run `tbot init` first")
    try:
        conn = connect(path, readonly=readonly, vfs=vfs)
        if not readonly:
            conn.execute("PRAGMA synchronous=FULL")
            conn.execute("PRAGMA temp_store=MEMORY")
            conn.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB:d}")
    except apsw.Error as exc:
        raise TbotError(f"{path.name}: cannot open ledger database ({type(exc).__name__})") from None
    return conn
