"""APSW connections with the project's settings: WAL, foreign keys, busy timeout.

Writers keep transactions short and wait on the busy timeout; readers such as
the console open read-only so they can never take a write lock.
"""

from __future__ import annotations

from pathlib import Path

import apsw

BUSY_TIMEOUT_MS = 10_000


def connect(
    path: Path, *, readonly: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS, vfs: str | None = None
) -> apsw.Connection:
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    kwargs = {"flags": flags}
    if vfs:
        kwargs["vfs"] = vfs
    conn = apsw.Connection(str(path), **kwargs)
    conn.set_busy_timeout(busy_timeout_ms)
    conn.execute("PRAGMA foreign_keys=ON")
    if not readonly:
        mode = conn.execute("PRAGMA journal_mode=WAL").fetchone()
        if mode and str(mode[0]).lower() != "wal" and vfs is None:
            raise apsw.Error(f"{path.name}: could not enable WAL (got {mode[0]})")
        conn.execute("PRAGMA synchronous=NORMAL")
    return conn


def schema_version(conn: apsw.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])
