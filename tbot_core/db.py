"""APSW connections with the project's settings: WAL, foreign keys, busy timeout.

Writers keep transactions short and wait on the busy timeout; readers such as
the console open read-only so they can never take a write lock.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import apsw

BUSY_TIMEOUT_MS = 10_000


def connect(
    path: Path, *, readonly: bool = False, busy_timeout_ms: int = BUSY_TIMEOUT_MS, vfs: str | None = None
) -> apsw.Connection:
    flags = apsw.SQLITE_OPEN_READONLY if readonly else apsw.SQLITE_OPEN_READWRITE | apsw.SQLITE_OPEN_CREATE
    kwargs: dict[str, Any] = {"flags": flags}
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


@contextlib.contextmanager
def durable(conn: apsw.Connection) -> Iterator[None]:
    """Commits inside survive power loss, not only a crash: ``synchronous=FULL`` syncs the WAL at each commit.

    The everyday NORMAL setting syncs the WAL only at checkpoints, so the last commits before a power cut can
    vanish; a kill switch's halt or a critical audit row must never be one of them.
    """
    conn.execute("PRAGMA synchronous=FULL")
    try:
        yield
    finally:
        conn.execute("PRAGMA synchronous=NORMAL")


def one_row(cursor: apsw.Cursor) -> Any:
    """The row of a query that always returns one (an aggregate, a pragma, a SELECT without FROM)."""
    row = cursor.fetchone()
    assert row is not None  # such a query never comes back empty
    return row


def schema_version(conn: apsw.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    assert row is not None  # a pragma that reads a value returns one row
    return int(row[0])
