"""The append-only, hash-chained audit log.

Each row stores the hash of the row before it and its own hash over the
canonical row, so an edit or a deletion made behind the program's back (with
plain sqlite3, after dropping the triggers) breaks the chain and
``tbot audit verify`` names the first bad sequence number.  Triggers refuse
UPDATE and DELETE from ordinary code.  Contexts are sanitized before they are
written: no secret ever reaches this table.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import os
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import apsw

from tbot_core.db import connect, durable
from tbot_core.errors import IntegrityError, TbotError
from tbot_core.paths import audit_anchor
from tbot_core.sanitize import sanitize
from tbot_core.timeutil import UtcTime, iso_z

SCHEMA_VERSION = 1
GENESIS = "0" * 64
SEVERITIES = ("debug", "info", "warning", "error", "critical")
ACTORS = ("system", "operator", "ui")
_SEVERITY_SET = frozenset(SEVERITIES)
_ACTOR_SET = frozenset(ACTORS)

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS audit_log (
    seq       INTEGER PRIMARY KEY,
    ts_utc    TEXT NOT NULL CHECK (length(ts_utc) = 27),
    category  TEXT NOT NULL CHECK (length(category) BETWEEN 1 AND 64),
    event     TEXT NOT NULL CHECK (length(event) BETWEEN 1 AND 128),
    severity  TEXT NOT NULL CHECK (severity IN ({", ".join(repr(s) for s in SEVERITIES)})),
    actor     TEXT NOT NULL CHECK (actor IN ({", ".join(repr(a) for a in ACTORS)})),
    context   TEXT NOT NULL,  -- canonical JSON written by canonical_context(); the row hash covers it
    prev_hash TEXT NOT NULL CHECK (length(prev_hash) = 64),
    row_hash  TEXT NOT NULL CHECK (length(row_hash) = 64)
) STRICT;
-- The kill switch's start-up check asks for the newest trigger/reset: an index, not a scan of the whole log.
CREATE INDEX IF NOT EXISTS audit_by_event ON audit_log(category, event, seq);
CREATE TRIGGER IF NOT EXISTS audit_log_no_update BEFORE UPDATE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: UPDATE refused'); END;
CREATE TRIGGER IF NOT EXISTS audit_log_no_delete BEFORE DELETE ON audit_log
BEGIN SELECT RAISE(ABORT, 'audit_log is append-only: DELETE refused'); END;
PRAGMA user_version = {SCHEMA_VERSION};
"""


@dataclass(frozen=True)
class AuditEvent:
    category: str
    event: str
    context: dict[str, Any]
    severity: str = "info"
    actor: str = "system"


@dataclass(frozen=True)
class AuditRow:
    seq: int
    ts_utc: UtcTime
    category: str
    event: str
    severity: str
    actor: str
    context: str
    prev_hash: str
    row_hash: str

    def context_dict(self) -> dict[str, Any]:
        try:
            value = json.loads(self.context)
        except ValueError:
            return {"_raw": self.context}
        return value if isinstance(value, dict) else {"_value": value}


def row_hash(
    seq: int, ts_utc: str, category: str, event: str, severity: str, actor: str, context: str, prev_hash: str
) -> str:
    """SHA-256 over the canonical row: fields joined by the ASCII unit separator."""
    return _sha256(
        f"{seq}\x1f{ts_utc}\x1f{category}\x1f{event}\x1f{severity}\x1f{actor}\x1f{context}\x1f{prev_hash}".encode()
    ).hexdigest()


_sha256 = hashlib.sha256


_CANONICAL = json.JSONEncoder(sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_context(context: dict[str, Any]) -> str:
    """Sorted, compact JSON of the sanitized context: the bytes the row hash covers."""
    return _CANONICAL.encode(sanitize(context))


def read_anchor(path: Path) -> tuple[int, str] | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except FileNotFoundError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_SH)  # a writer replaces it under LOCK_EX: never read half of it
        seq, digest = os.read(fd, 128).decode("ascii").split()
        return int(seq), digest
    except (ValueError, UnicodeDecodeError):
        return None
    finally:
        os.close(fd)


def advance_anchor(path: Path, seq: int, digest: str) -> None:
    """Record the newest committed row; only ever forward, serialized across writer processes.

    Written after COMMIT: a crash in between leaves the anchor behind the log,
    which verify accepts; it is never ahead of what was committed.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        current = os.read(fd, 128).split()
        if current and int(current[0]) >= seq:
            return
        payload = f"{seq} {digest}\n".encode("ascii")
        os.lseek(fd, 0, os.SEEK_SET)
        os.write(fd, payload)
        os.ftruncate(fd, len(payload))
    finally:
        os.close(fd)


class AuditLog:
    """Writer and reader of one audit database: the one append path, safe from any thread and any process.

    Threads of one process share the connection, and an APSW connection must
    not run two statements or transactions at once, so every use of it holds
    ``_lock``; other processes are serialized by SQLite's write lock
    (``BEGIN IMMEDIATE``) and the anchor file's ``flock``.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = path
        self.anchor = audit_anchor(path)
        self.readonly = readonly
        self._lock = threading.RLock()
        try:
            self.conn = connect(path, readonly=readonly)
            if not readonly:
                # IMMEDIATE: take the write lock (waiting on the busy timeout) before reading the schema, so a
                # second process opening the log while others append waits instead of failing a lock upgrade.
                self.conn.execute("BEGIN IMMEDIATE")
                try:
                    self.conn.execute(SCHEMA)
                    self.conn.execute("COMMIT")
                except BaseException:
                    if not self.conn.get_autocommit():
                        self.conn.execute("ROLLBACK")
                    raise
        except apsw.Error as exc:
            raise TbotError(f"{path.name}: cannot open audit database ({type(exc).__name__})") from None

    def close(self) -> None:
        with self._lock:
            self.conn.close()

    def __enter__(self) -> AuditLog:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # -- writing -----------------------------------------------------------------------
    def append(
        self,
        category: str,
        event: str,
        context: dict[str, Any] | None = None,
        *,
        severity: str = "info",
        actor: str = "system",
    ) -> int:
        return self.append_many([AuditEvent(category, event, context or {}, severity, actor)])[-1]

    def append_many(self, events: Sequence[AuditEvent]) -> list[int]:
        """Append events in one transaction; returns their sequence numbers."""
        if not events:
            return []
        bad = next((ev for ev in events if ev.severity not in _SEVERITY_SET or ev.actor not in _ACTOR_SET), None)
        if bad is not None:
            raise ValueError(f"audit event {bad.event!r}: bad severity {bad.severity!r} or actor {bad.actor!r}")
        contexts = [canonical_context(ev.context) for ev in events]
        with self._lock:
            if any(ev.severity == "critical" for ev in events):
                with durable(self.conn):  # a halt, a disagreement, a blocked launch: kept through a power cut
                    return self._append_locked(events, contexts)
            return self._append_locked(events, contexts)

    def _append_locked(self, events: Sequence[AuditEvent], contexts: list[str]) -> list[int]:
        ts = iso_z()
        conn = self.conn
        # BEGIN IMMEDIATE takes the write lock first, so reading the head and
        # appending cannot interleave with another process's append.
        conn.execute("BEGIN IMMEDIATE")
        try:
            head = conn.execute("SELECT seq, row_hash FROM audit_log ORDER BY seq DESC LIMIT 1").fetchone()
            seq, prev = (head[0], head[1]) if head else (0, GENESIS)
            rows = []
            sha = _sha256
            for ev, ctx in zip(events, contexts):
                seq += 1
                # Inlined row_hash(): this loop is the audit log's hot path.
                digest = sha(
                    f"{seq}\x1f{ts}\x1f{ev.category}\x1f{ev.event}\x1f{ev.severity}\x1f{ev.actor}\x1f{ctx}\x1f{prev}".encode()
                ).hexdigest()
                rows.append((seq, ts, ev.category, ev.event, ev.severity, ev.actor, ctx, prev, digest))
                prev = digest
            conn.executemany("INSERT INTO audit_log VALUES (?,?,?,?,?,?,?,?,?)", rows)
            conn.execute("COMMIT")
        except BaseException:
            if not conn.get_autocommit():
                conn.execute("ROLLBACK")
            raise
        advance_anchor(self.anchor, seq, prev)
        return [row[0] for row in rows]

    # -- reading -----------------------------------------------------------------------
    def tail(
        self,
        n: int = 20,
        *,
        category: str | None = None,
        severity: str | None = None,
        search: str | None = None,
        after_seq: int = 0,
    ) -> list[AuditRow]:
        """The newest ``n`` rows matching the filters, oldest first."""
        where = ["seq > ?"]
        args: list[object] = [after_seq]
        if category:
            where.append("category = ?")
            args.append(category)
        if severity:
            where.append("severity = ?")
            args.append(severity)
        if search:
            where.append("(event LIKE ? OR context LIKE ? OR category LIKE ?)")
            like = f"%{search}%"
            args.extend([like, like, like])
        sql = f"SELECT * FROM audit_log WHERE {' AND '.join(where)} ORDER BY seq DESC LIMIT ?"
        with self._lock:
            rows = [AuditRow(*r) for r in self.conn.execute(sql, (*args, n))]
        rows.reverse()
        return rows

    def latest(self, category: str, events: Sequence[str]) -> AuditRow | None:
        """The newest row of ``category`` whose event is one of ``events`` (None if there is none)."""
        marks = ",".join("?" * len(events))
        sql = f"SELECT * FROM audit_log WHERE category = ? AND event IN ({marks}) ORDER BY seq DESC LIMIT 1"
        with self._lock:
            row = self.conn.execute(sql, (category, *events)).fetchone()
        return None if row is None else AuditRow(*row)

    def count(self) -> int:
        with self._lock:
            row = self.conn.execute("SELECT count(*) FROM audit_log").fetchone()
        assert row is not None  # an aggregate always returns one row
        return int(row[0])

    def last_seq(self) -> int:
        with self._lock:
            row = self.conn.execute("SELECT max(seq) FROM audit_log").fetchone()
        assert row is not None  # an aggregate always returns one row
        return int(row[0] or 0)

    def iter_rows(self, batch: int = 5000) -> Iterable[AuditRow]:
        last = 0
        while True:
            with self._lock:
                chunk: list[tuple[Any, ...]] = self.conn.execute(
                    "SELECT * FROM audit_log WHERE seq > ? ORDER BY seq LIMIT ?", (last, batch)
                ).fetchall()
            if not chunk:
                return
            for raw in chunk:
                yield AuditRow(*raw)
            last = chunk[-1][0]

    def verify(self) -> int:
        """Check the whole chain; return the row count or raise naming the first bad seq."""
        expected_seq, prev = 1, GENESIS
        for row in self.iter_rows():
            if row.seq != expected_seq:
                raise IntegrityError(
                    f"audit chain broken at seq {expected_seq}: row missing (next row is seq {row.seq})"
                )
            if row.prev_hash != prev:
                raise IntegrityError(f"audit chain broken at seq {row.seq}: prev_hash does not match the row before")
            digest = row_hash(
                row.seq, row.ts_utc, row.category, row.event, row.severity, row.actor, row.context, row.prev_hash
            )
            if digest != row.row_hash:
                raise IntegrityError(
                    f"audit chain broken at seq {row.seq}: row contents do not match its hash (edited)"
                )
            prev, expected_seq = row.row_hash, expected_seq + 1
        count = expected_seq - 1
        self._check_anchor(count)
        return count

    def _check_anchor(self, count: int) -> None:
        """The newest committed row a writer recorded must still be there, unchanged."""
        anchor = read_anchor(self.anchor)
        if anchor is None:
            if count:
                raise IntegrityError(f"audit chain unverifiable: head anchor {self.anchor.name} missing or garbled")
            return
        seq, digest = anchor
        if seq > count:
            raise IntegrityError(
                f"audit chain broken at seq {count + 1}: rows {count + 1}..{seq} missing "
                f"(the head anchor records seq {seq})"
            )
        with self._lock:
            row = self.conn.execute("SELECT row_hash FROM audit_log WHERE seq = ?", (seq,)).fetchone()
        if seq and (row is None or row[0] != digest):
            raise IntegrityError(f"audit chain broken at seq {seq}: does not match the head anchor")
