"""Upgrade a version-1 or version-2 ledger file to the current schema without changing a posted cent.

Version 2 gave groups and legs slot columns (``group_no``/``group_count``,
``leg_no``/``leg_count``) whose constraints SQLite cannot add to existing
tables, so from version 1 ``batches``, ``groups`` and ``legs`` are rebuilt
from their old rows.  Version 3 gave batches their place in the hash chain
(``seq``, ``batch_hash``: ``chain.py``) and every table a no-REPLACE trigger,
so from version 2 only ``batches`` is rebuilt.  The other tables stay where
they are.  Why it is done this way:

* The backup is taken first, and the rebuild goes ahead only if no other
  connection committed between the backup and the rebuild's write lock
  (``PRAGMA data_version``): the backup is exactly the file as it was.
* ``foreign_keys=OFF`` and ``legacy_alter_table=ON`` (both set outside the
  transaction, where SQLite honours them) keep the renames from rewriting the
  stored SQL of the tables that point at the renamed ones; the startup check
  compares that text with ``schema.sql`` character for character.
* Batches are copied last and one at a time in commit order (their rowid),
  each given the next ``seq`` and its hash over the rows already in place,
  so the seal triggers re-prove every batch as it arrives, a refusal names
  the batch, and the chain is the one the posting path would have built.
* It is one transaction ending in a copy tally and ``foreign_key_check``: any
  failure rolls back and the file is what it was (the backup stays).
"""

from __future__ import annotations

import os
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import apsw

from tbot_core.audit import AuditLog
from tbot_core.db import one_row, schema_version
from tbot_core.errors import TbotError
from tbot_core.ledger.chain import GENESIS, draft_hash
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.schema import SCHEMA_VERSION, schema_sql, version_problem
from tbot_core.paths import FILE_MODE, FOLDER_MODE

AUDIT_CATEGORY = "ledger_migration"
MIGRATES_FROM = (1, 2)
TABLES = ("accounts", "coa_mapping", "batches", "failed_batches", "groups", "legs", "lots", "lot_reliefs")
# per source version: tables rebuilt, copied in the order groups, legs, batches (the seal last)
REBUILT = {1: ("batches", "groups", "legs"), 2: ("batches",)}
T = TypeVar("T")

_COPY_GROUPS = """
INSERT INTO groups (group_id, batch_id, kind, effective_utc, memo, symbol, broker_code, fitid, content_hash,
                    reverses_group_id, group_no, group_count, leg_count)
SELECT g.group_id, g.batch_id, g.kind, g.effective_utc, g.memo, g.symbol, g.broker_code, g.fitid, g.content_hash,
       g.reverses_group_id, row_number() OVER (PARTITION BY g.batch_id ORDER BY g.group_id),
       count(*) OVER (PARTITION BY g.batch_id), (SELECT count(*) FROM v1_legs l WHERE l.group_id = g.group_id)
FROM v1_groups g ORDER BY g.group_id"""

_COPY_LEGS = """
INSERT INTO legs (group_id, leg_no, account_code, debit_cents, credit_cents, leg_count)
SELECT group_id, row_number() OVER (PARTITION BY group_id ORDER BY leg_id), account_code, debit_cents, credit_cents,
       count(*) OVER (PARTITION BY group_id)
FROM v1_legs ORDER BY group_id, leg_id"""

# The old batch rows in commit order, as chain.BATCH_COLUMNS without seq (version 1 had no group_count; neither
# version stored a sync run's input digest, so a re-run of an old run takes the full content comparison).
_OLD_BATCHES = """
SELECT batch_id, sync_run_id, broker_code, kind, caller, reason, started_utc, completed_utc, row_count, skipped_known,
       commit_state, {group_count}, NULL FROM {table} b ORDER BY b.rowid"""
_GROUP_COUNT = {1: "(SELECT count(*) FROM groups g WHERE g.batch_id = b.batch_id)", 2: "group_count"}

# (batches, groups, legs, debit cents, credit cents) of a set of tables: the copy must not change any of them.
_TALLY = (
    "SELECT (SELECT count(*) FROM {batches}), (SELECT count(*) FROM {groups}), (SELECT count(*) FROM {legs}), "
    "(SELECT coalesce(sum(debit_cents), 0) FROM {legs}), (SELECT coalesce(sum(credit_cents), 0) FROM {legs})"
)


@dataclass(frozen=True)
class MigrationResult:
    """What a migration did, in the words the operator and the audit log need."""

    path: Path
    from_version: int
    to_version: int
    backup: Path | None = None  # None: the file was already current and nothing was touched
    copied: tuple[tuple[str, int], ...] = ()  # (table, rows) rebuilt under the new schema

    @property
    def changed(self) -> bool:
        return self.backup is not None

    def lines(self) -> list[str]:
        if not self.changed:
            return [f"{self.path.name}: already at schema version {self.to_version}; nothing to do"]
        rows = ", ".join(f"{table} {count}" for table, count in self.copied)
        kept = ", ".join(table for table in TABLES if table not in dict(self.copied))
        batches = dict(self.copied).get("batches", 0)
        return [
            f"{self.path.name}: migrated schema version {self.from_version} -> {self.to_version} in one transaction",
            f"backup (version {self.from_version}, taken before any change): {self.backup}",
            f"rows copied and re-sealed: {rows}; {kept} kept in place",
            f"hash chain computed for {batches} batches",
        ]

    def audit_context(self) -> dict[str, Any]:
        return {
            "file": self.path.name,
            "from_version": self.from_version,
            "to_version": self.to_version,
            "backup": str(self.backup),
            **{f"{table}_copied": count for table, count in self.copied},
        }


class _Refused(Exception):
    """A step of the rebuild failed; the message says which and why (the caller adds the file and rolls back)."""


def migrate_ledger(
    path: Path, backup: Path, *, audit: AuditLog | None = None, actor: str = "system"
) -> MigrationResult:
    """Bring ``path`` to SCHEMA_VERSION; ``backup`` (a path from paths.py) receives the file as it was.

    Every refusal is one ``TbotError`` line naming the file; ``audit`` gets one
    event per migration or refusal (a file already current is not an event).
    """
    try:
        result = _migrate(path, backup)
    except TbotError as exc:
        if audit is not None:
            audit.append(
                AUDIT_CATEGORY,
                "ledger_migration_refused",
                {"file": path.name, "error": exc.one_line()},
                severity="error",
                actor=actor,
            )
        raise
    if audit is not None and result.changed:
        audit.append(AUDIT_CATEGORY, "ledger_migrated", result.audit_context(), actor=actor)
    return result


def _migrate(path: Path, backup: Path) -> MigrationResult:
    if not path.is_file():
        raise TbotError(f"{path.name}: ledger database not found", hint="run `tbot init` first")
    conn = open_ledger(path)
    try:
        try:
            version = schema_version(conn)
            if version == SCHEMA_VERSION:
                return MigrationResult(path, version, version)
            _require_known_layout(conn, path, version)
            seen = _data_version(conn)
        except apsw.Error as exc:
            raise TbotError(f"{path.name}: unreadable ({_sqlite_text(exc)}); nothing changed") from None
        _take_backup(conn, path, backup)
        try:
            copied = _rebuild(conn, seen, version)
        except _Refused as exc:
            raise TbotError(
                f"{path.name}: migration to schema version {SCHEMA_VERSION} refused, {exc}; "
                f"the file is unchanged (backup kept: {backup})"
            ) from None
        return MigrationResult(path, version, SCHEMA_VERSION, backup, copied)
    finally:
        conn.close()


def _require_known_layout(conn: apsw.Connection, path: Path, version: int) -> None:
    """Only a file that is version 1 or 2 by stamp and by shape may be rebuilt; anything else is refused untouched."""
    if version not in MIGRATES_FROM:
        why = version_problem(version) if version > SCHEMA_VERSION else f"schema version {version} has no migration"
        raise TbotError(f"{path.name}: cannot migrate: {why}; nothing changed")
    legs = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('legs')")}
    batches = {row[0] for row in conn.execute("SELECT name FROM pragma_table_info('batches')")}
    shaped = {
        1: "leg_id" in legs and "group_count" not in batches,
        2: "leg_no" in legs and "group_count" in batches and "seq" not in batches,
    }[version]
    if not shaped:
        raise TbotError(
            f"{path.name}: stamped schema version {version} but its tables are not the version-{version} layout; "
            "nothing changed",
            hint="restore db/ledger.db from a backup",
        )


def _data_version(conn: apsw.Connection) -> int:
    """Changes whenever another connection commits to the file (never for this connection's own writes)."""
    return int(one_row(conn.execute("PRAGMA data_version"))[0])


def _take_backup(conn: apsw.Connection, path: Path, backup: Path) -> None:
    """A consistent copy through SQLite's backup API, owner-only, never over an existing file."""
    backup.parent.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    try:
        os.close(os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE))
    except FileExistsError:
        raise TbotError(f"{path.name}: backup {backup} already exists; not overwritten, nothing changed") from None
    except OSError as exc:
        raise TbotError(f"{path.name}: cannot create backup {backup} ({exc.strerror}); nothing changed") from None
    try:
        _copy_into(conn, backup)
    except (apsw.Error, _Refused) as exc:
        backup.unlink(missing_ok=True)
        why = _sqlite_text(exc) if isinstance(exc, apsw.Error) else str(exc)
        raise TbotError(f"{path.name}: backup to {backup} failed ({why}); nothing changed") from None


def _copy_into(conn: apsw.Connection, backup: Path) -> None:
    copy = apsw.Connection(str(backup))
    try:
        with copy.backup("main", conn, "main") as job:
            job.step()  # every page in one step: one read snapshot of the source
            if not job.done:
                raise _Refused("the backup did not complete")
        copy.execute("PRAGMA journal_mode=DELETE")  # one self-contained file, no -wal beside it
        if one_row(copy.execute("PRAGMA quick_check"))[0] != "ok":
            raise _Refused("the copy fails quick_check")
    finally:
        copy.close()


def _rebuild(conn: apsw.Connection, seen: int, version: int) -> tuple[tuple[str, int], ...]:
    """The one transaction; the pragmas are set around it because SQLite ignores foreign_keys inside one."""
    conn.execute("PRAGMA foreign_keys=OFF")
    conn.execute("PRAGMA legacy_alter_table=ON")
    try:
        conn.execute("BEGIN IMMEDIATE")
        try:
            copied = _rebuild_steps(conn, seen, version)
            conn.execute("COMMIT")
        except BaseException:
            _rollback(conn)
            raise
        return copied
    except apsw.Error as exc:  # BEGIN IMMEDIATE (another writer held the lock) or COMMIT (I/O)
        raise _Refused(f"taking the write lock or committing failed ({_sqlite_text(exc)})") from None
    finally:
        with suppress(apsw.Error):  # the connection is closed next; a failed restore must not hide the real error
            conn.execute("PRAGMA legacy_alter_table=OFF")
            conn.execute("PRAGMA foreign_keys=ON")


def _rebuild_steps(conn: apsw.Connection, seen: int, version: int) -> tuple[tuple[str, int], ...]:
    if _data_version(conn) != seen or schema_version(conn) != version:
        raise _Refused("another connection wrote to the ledger while the backup was taken; run it again")
    rebuilt = REBUILT[version]
    old = {table: (f"v{version}_{table}" if table in rebuilt else table) for table in REBUILT[1]}
    _step("dropping triggers and views", _drop_triggers_and_views, conn)
    for table in rebuilt:
        _step(f"renaming {table}", conn.execute, f"ALTER TABLE {table} RENAME TO {old[table]}")
    _step(f"creating the version-{SCHEMA_VERSION} schema", conn.execute, schema_sql())
    copied = []
    if version == 1:
        copied += [
            ("groups", _step("copying groups", _changes, conn, _COPY_GROUPS)),
            ("legs", _step("copying legs", _changes, conn, _COPY_LEGS)),
        ]
    copied.insert(0, ("batches", _copy_batches(conn, version, old["batches"])))
    _step("comparing the copy", _check_tally, conn, old)
    for table in reversed(rebuilt):
        _step(f"dropping the old {table}", conn.execute, f"DROP TABLE {old[table]}")
    _step("foreign_key_check", _check_foreign_keys, conn)
    _step("stamping the version", conn.execute, f"PRAGMA user_version = {SCHEMA_VERSION}")
    return tuple(copied)


def _step(label: str, action: Callable[..., T], *args: Any) -> T:
    """Run one step; an SQLite error becomes a refusal that names the step."""
    try:
        return action(*args)
    except apsw.Error as exc:
        raise _Refused(f"{label} failed ({_sqlite_text(exc)})") from None


def _changes(conn: apsw.Connection, sql: str) -> int:
    conn.execute(sql)
    return conn.changes()


def _drop_triggers_and_views(conn: apsw.Connection) -> None:
    """Old triggers would ride along with the renamed tables and stop ``IF NOT EXISTS`` from creating the new ones."""
    rows: list[tuple[Any, ...]] = conn.execute(
        "SELECT type, name FROM sqlite_schema WHERE type IN ('trigger', 'view')"
    ).fetchall()
    for kind, name in rows:
        conn.execute(f"DROP {kind.upper()} {_quoted(name)}")


def _copy_batches(conn: apsw.Connection, version: int, table: str) -> int:
    """One seal per batch, in commit order, each linked to the one before, so a seal that refuses names its batch."""
    rows = _step(
        "reading the old batches",
        lambda: conn.execute(_OLD_BATCHES.format(group_count=_GROUP_COUNT[version], table=table)).fetchall(),
    )
    prev = GENESIS
    for seq, row in enumerate(rows, 1):
        seal = (*row, seq)
        try:
            prev = draft_hash(conn, seal, prev)
            conn.execute("INSERT INTO batches VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)", (*seal, prev))
        except apsw.Error as exc:
            raise _Refused(f"batch {row[0]!r} fails the version-{SCHEMA_VERSION} seal ({_sqlite_text(exc)})") from None
    return len(rows)


def _check_tally(conn: apsw.Connection, old: dict[str, str]) -> None:
    before = conn.execute(_TALLY.format(**old)).fetchone()
    after = conn.execute(_TALLY.format(**{t: t for t in old})).fetchone()
    if before != after:
        raise _Refused(f"the copy does not match: old (batches, groups, legs, debits, credits) {before}, new {after}")


def _check_foreign_keys(conn: apsw.Connection) -> None:
    row = conn.execute("PRAGMA foreign_key_check").fetchone()
    if row is not None:
        table, rowid, parent, _ = row
        where = f"row {rowid}" if rowid is not None else "a row"
        raise _Refused(f"foreign_key_check: table {table} {where} points at a missing {parent} row")


def _rollback(conn: apsw.Connection) -> None:
    try:
        if not conn.get_autocommit():
            conn.execute("ROLLBACK")
    except apsw.Error:
        pass  # SQLite already rolled back (an I/O error can do that); nothing was committed either way


def _quoted(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _sqlite_text(exc: apsw.Error) -> str:
    return " ".join(f"{type(exc).__name__}: {exc}".split())
