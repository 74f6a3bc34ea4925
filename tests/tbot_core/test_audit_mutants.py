"""The audit log, in-process and exact (mutmut sees these): the row hash, the chain, the head anchor, the
readers' filters and every message ``verify`` gives for a log edited behind its back.

Real SQLite files through the real ``AuditLog``; tampering uses plain ``sqlite3`` after dropping the
guard triggers, as an attacker would.
"""

from __future__ import annotations

import hashlib
import sqlite3
from pathlib import Path

import apsw
import pytest

from tbot_core.audit import (
    GENESIS,
    AuditEvent,
    AuditLog,
    AuditRow,
    advance_anchor,
    canonical_context,
    read_anchor,
    row_hash,
)
from tbot_core.errors import IntegrityError, TbotError
from tbot_core.paths import audit_anchor


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "audit.db"


def _tamper(path: Path, *sql: str) -> None:
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_update")
    conn.execute("DROP TRIGGER IF EXISTS audit_log_no_delete")
    for statement in sql:
        conn.execute(statement)
    conn.commit()
    conn.close()


def _verify_error(path: Path) -> str:
    with AuditLog(path, readonly=True) as audit, pytest.raises(IntegrityError) as info:
        audit.verify()
    return str(info.value)


def _rows(path: Path) -> list[AuditRow]:
    with AuditLog(path, readonly=True) as audit:
        return list(audit.iter_rows())


# -- hashing and the canonical context ----------------------------------------------------------------------------
def test_the_row_hash_is_sha256_of_the_fields_joined_by_the_unit_separator():
    expected = hashlib.sha256(
        b"3\x1f2026-01-02T03:04:05.000006Z\x1fcat\x1fev\x1fwarning\x1foperator\x1f{}\x1f" + b"p" * 64
    ).hexdigest()
    assert row_hash(3, "2026-01-02T03:04:05.000006Z", "cat", "ev", "warning", "operator", "{}", "p" * 64) == expected


def test_the_canonical_context_is_sorted_compact_unescaped_json_of_the_sanitized_context():
    text = canonical_context({"b": 1, "a": ["é", 2.5], "api_key": "sk-live-123456789", "n": None})
    assert text.startswith('{"a":["é",2.5],"api_key":"') and text.endswith('","b":1,"n":null}')
    assert "sk-live-123456789" not in text


def test_a_rows_context_reads_back_as_a_dict_whatever_was_stored():
    def row(context: str) -> AuditRow:
        return AuditRow(1, "t", "c", "e", "info", "system", context, GENESIS, GENESIS)

    assert row('{"a":1}').context_dict() == {"a": 1}
    assert row("[1,2]").context_dict() == {"_value": [1, 2]}
    assert row("not json").context_dict() == {"_raw": "not json"}


# -- appending ----------------------------------------------------------------------------------------------------
def test_appended_rows_are_numbered_from_one_chained_from_genesis_and_hashed_over_their_fields(db):
    with AuditLog(db) as audit:
        assert audit.last_seq() == 0 and audit.count() == 0
        assert audit.append("risk", "halt", {"b": 2, "a": 1}) == 1
        assert audit.append_many([AuditEvent("x", "one", {}), AuditEvent("y", "two", {"k": "v"}, "error", "ui")]) == [
            2,
            3,
        ]
        assert audit.last_seq() == 3 and audit.count() == 3
    first, second, third = _rows(db)
    assert (first.seq, first.category, first.event, first.severity, first.actor) == (
        1,
        "risk",
        "halt",
        "info",
        "system",
    )
    assert first.context == '{"a":1,"b":2}' and first.prev_hash == GENESIS
    assert (third.severity, third.actor, third.context) == ("error", "ui", '{"k":"v"}')
    assert second.prev_hash == first.row_hash and third.prev_hash == second.row_hash
    assert second.ts_utc == third.ts_utc, "one batch, one timestamp"
    for r in (first, second, third):
        assert len(r.ts_utc) == 27 and r.ts_utc.endswith("Z")
        assert r.row_hash == row_hash(r.seq, r.ts_utc, r.category, r.event, r.severity, r.actor, r.context, r.prev_hash)
    assert read_anchor(audit_anchor(db)) == (3, third.row_hash)


def test_a_critical_event_is_committed_with_full_sync_and_others_with_the_everyday_setting(db):
    with AuditLog(db) as audit:
        statements: list[str] = []
        audit.conn.exec_trace = lambda cursor, sql, bindings: statements.append(sql) or True
        audit.append("c", "routine", severity="error")
        assert not any("synchronous" in sql for sql in statements), "an everyday row pays no fsync"
        statements.clear()
        audit.append_many([AuditEvent("c", "note", {}), AuditEvent("risk", "halt", {}, "critical")])
        pragmas = [sql for sql in statements if "synchronous" in sql or sql == "COMMIT"]
        assert pragmas == ["PRAGMA synchronous=FULL", "COMMIT", "PRAGMA synchronous=NORMAL"]
        assert audit.conn.execute("PRAGMA synchronous").fetchone()[0] == 1, "back to NORMAL afterwards"


def test_tail_gives_twenty_rows_unless_asked_for_more(db):
    with AuditLog(db) as audit:
        audit.append_many([AuditEvent("c", f"e{i}", {}) for i in range(21)])
        assert [r.seq for r in audit.tail()] == list(range(2, 22))
        assert len(audit.tail(21)) == 21


def test_an_append_without_a_context_stores_an_empty_object(db):
    with AuditLog(db) as audit:
        audit.append("c", "e")
        audit.append("c", "e", None, severity="critical", actor="operator")
    assert [(r.context, r.severity, r.actor) for r in _rows(db)] == [
        ("{}", "info", "system"),
        ("{}", "critical", "operator"),
    ]


def test_appending_nothing_writes_nothing(db):
    with AuditLog(db) as audit:
        assert audit.append_many([]) == []
        assert audit.count() == 0
    assert read_anchor(audit_anchor(db)) is None


@pytest.mark.parametrize("severity, actor", [("fatal", "system"), ("info", "root"), ("INFO", "system")])
def test_a_bad_severity_or_actor_is_refused_before_anything_is_written(db, severity, actor):
    with AuditLog(db) as audit:
        with pytest.raises(ValueError) as info:
            audit.append_many([AuditEvent("c", "fine", {}), AuditEvent("c", "bad", {}, severity, actor)])
        assert str(info.value) == f"audit event 'bad': bad severity {severity!r} or actor {actor!r}"
        assert audit.count() == 0


def test_every_severity_and_actor_is_accepted(db):
    with AuditLog(db) as audit:
        for severity in ("debug", "info", "warning", "error", "critical"):
            for actor in ("system", "operator", "ui"):
                audit.append("c", "e", severity=severity, actor=actor)
        assert audit.verify() == 15


def test_a_failed_batch_is_rolled_back_whole_and_the_log_keeps_working(db):
    with AuditLog(db) as audit:
        audit.append("c", "before")
        with pytest.raises(apsw.ConstraintError):
            audit.append_many([AuditEvent("c", "fine", {}), AuditEvent("x" * 65, "too_long_category", {})])
        assert audit.count() == 1
        assert audit.append("c", "after") == 2
        assert audit.verify() == 2
    assert read_anchor(audit_anchor(db))[0] == 2


def test_a_second_log_on_the_same_file_continues_the_chain(db):
    with AuditLog(db) as one, AuditLog(db) as two:
        one.append("c", "a")
        assert two.append("c", "b") == 2
        assert one.append("c", "c") == 3
        assert one.verify() == 3


# -- opening --------------------------------------------------------------------------------------------------------
def test_a_file_that_is_not_a_database_cannot_be_opened(tmp_path):
    bad = tmp_path / "audit.db"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(TbotError) as info:
        AuditLog(bad)
    assert str(info.value) == "audit.db: cannot open audit database (NotADBError)"


def test_a_missing_log_cannot_be_opened_read_only_and_nothing_is_created(tmp_path):
    with pytest.raises(TbotError) as info:
        AuditLog(tmp_path / "audit.db", readonly=True)
    assert str(info.value) == "audit.db: cannot open audit database (CantOpenError)"
    assert not (tmp_path / "audit.db").exists()


def test_a_read_only_log_reads_but_refuses_to_append(db):
    with AuditLog(db) as audit:
        audit.append("c", "e")
    with AuditLog(db, readonly=True) as reader:
        assert reader.readonly is True and reader.count() == 1 and reader.path == db
        with pytest.raises(apsw.ReadOnlyError):
            reader.append("c", "e2")


def test_a_schema_that_cannot_be_applied_is_rolled_back_and_leaves_the_file_unlocked(db):
    conn = sqlite3.connect(db)
    conn.execute("CREATE TABLE audit_log (seq INTEGER PRIMARY KEY)")  # no category/event: the index fails
    conn.commit()
    conn.close()
    with pytest.raises(TbotError) as info:
        AuditLog(db)
    assert str(info.value) == "audit.db: cannot open audit database (SQLError)"
    other = apsw.Connection(str(db))
    other.set_busy_timeout(0)
    other.execute("BEGIN IMMEDIATE")  # the failed open holds no write lock
    other.execute("ROLLBACK")
    assert other.execute("SELECT count(*) FROM sqlite_master WHERE type = 'trigger'").fetchone()[0] == 0
    other.close()
    del info


def test_the_schema_is_created_with_its_triggers_and_version(db):
    with AuditLog(db) as audit:
        audit.append("c", "e")
        with pytest.raises(apsw.ConstraintError, match="append-only: UPDATE refused"):
            audit.conn.execute("UPDATE audit_log SET event = 'x'")
        assert audit.conn.execute("PRAGMA user_version").fetchone()[0] == 1


def test_a_closed_log_refuses_further_use(db):
    audit = AuditLog(db)
    with audit as same:
        assert same is audit
    with pytest.raises(apsw.ConnectionClosedError):
        audit.count()


# -- reading ------------------------------------------------------------------------------------------------------
@pytest.fixture
def filled(db: Path) -> AuditLog:
    with AuditLog(db) as audit:
        audit.append("risk", "limit_hit", {"symbol": "AAPL"}, severity="warning")
        audit.append("control", "flag_stop_acknowledged", {"reason": "going home"})
        audit.append("risk", "halt", {"why": "daily loss"}, severity="critical")
        audit.append("engine", "started", {"mode": "paper riskless"})
        audit.append("riskless", "noted", {})
        yield audit


def test_tail_gives_the_newest_rows_oldest_first(filled):
    assert [r.seq for r in filled.tail(2)] == [4, 5]
    assert [r.seq for r in filled.tail()] == [1, 2, 3, 4, 5]


def test_tail_filters_by_category_severity_search_and_after_seq(filled):
    assert [r.seq for r in filled.tail(10, category="risk")] == [1, 3]
    assert [r.seq for r in filled.tail(10, severity="critical")] == [3]
    assert [r.seq for r in filled.tail(10, category="risk", severity="warning")] == [1]
    assert [r.seq for r in filled.tail(10, search="halt")] == [3], "event"
    assert [r.seq for r in filled.tail(10, search="going home")] == [2], "context"
    assert [r.seq for r in filled.tail(10, search="riskless")] == [4, 5], "context and category"
    assert [r.seq for r in filled.tail(10, search="isk")] == [1, 3, 4, 5], "anywhere inside"
    assert [r.seq for r in filled.tail(10, after_seq=3)] == [4, 5]
    assert [r.seq for r in filled.tail(1, category="risk", after_seq=1)] == [3]
    assert filled.tail(10, category="nope") == []


def test_latest_finds_the_newest_row_of_a_category_among_events(filled):
    assert filled.latest("risk", ["limit_hit", "halt"]).seq == 3
    assert filled.latest("risk", ["limit_hit"]).seq == 1
    assert filled.latest("risk", ["started"]) is None
    assert filled.latest("engine", ["started"]).event == "started"


def test_iter_rows_pages_through_every_row_in_order(filled):
    assert [r.seq for r in filled.iter_rows(batch=2)] == [1, 2, 3, 4, 5]
    assert [r.seq for r in filled.iter_rows()] == [1, 2, 3, 4, 5]


# -- the head anchor ------------------------------------------------------------------------------------------------
def test_the_anchor_is_a_private_file_holding_the_newest_seq_and_hash(tmp_path):
    anchor = tmp_path / "head"
    advance_anchor(anchor, 4, "d" * 64)
    assert anchor.read_text() == f"4 {'d' * 64}\n" and anchor.stat().st_mode & 0o777 == 0o600
    assert read_anchor(anchor) == (4, "d" * 64)


def test_the_anchor_only_moves_forward_and_a_shorter_record_leaves_no_tail(tmp_path):
    anchor = tmp_path / "head"
    advance_anchor(anchor, 9, "a" * 100)
    advance_anchor(anchor, 8, "b")
    advance_anchor(anchor, 9, "c")
    assert anchor.read_text() == f"9 {'a' * 100}\n"
    advance_anchor(anchor, 10, "e")
    assert anchor.read_text() == "10 e\n" and read_anchor(anchor) == (10, "e")


@pytest.mark.parametrize("content", [b"", b"12", b"x y", b"1 2 3", b"\xff 1", b"1.5 abc"])
def test_a_garbled_anchor_reads_as_none(tmp_path, content):
    (tmp_path / "head").write_bytes(content)
    assert read_anchor(tmp_path / "head") is None


def test_a_missing_anchor_reads_as_none_and_only_the_first_128_bytes_count(tmp_path):
    assert read_anchor(tmp_path / "head") is None
    (tmp_path / "head").write_bytes(b"7 " + b"a" * 126 + b"bc d")
    assert read_anchor(tmp_path / "head") == (7, "a" * 126)


# -- verify ---------------------------------------------------------------------------------------------------------
def _log_of(db: Path, n: int) -> None:
    with AuditLog(db) as audit:
        audit.append_many([AuditEvent("c", f"e{i}", {"i": i}) for i in range(n)])


def test_an_intact_log_verifies_to_its_row_count_and_an_empty_one_to_zero(db):
    with AuditLog(db) as audit:
        assert audit.verify() == 0
    _log_of(db, 4)
    with AuditLog(db, readonly=True) as audit:
        assert audit.verify() == 4


def test_verify_names_a_missing_row(db):
    _log_of(db, 5)
    _tamper(db, "DELETE FROM audit_log WHERE seq = 3")
    assert _verify_error(db) == "audit chain broken at seq 3: row missing (next row is seq 4)"


def test_verify_names_a_row_whose_link_to_the_previous_was_changed(db):
    _log_of(db, 5)
    rows = _rows(db)
    forged = row_hash(4, rows[3].ts_utc, "c", "e3", "info", "system", rows[3].context, "f" * 64)
    _tamper(db, f"UPDATE audit_log SET prev_hash = '{'f' * 64}', row_hash = '{forged}' WHERE seq = 4")
    assert _verify_error(db) == "audit chain broken at seq 4: prev_hash does not match the row before"


def test_verify_names_an_edited_row(db):
    _log_of(db, 5)
    _tamper(db, "UPDATE audit_log SET severity = 'debug' WHERE seq = 2")
    assert _verify_error(db) == "audit chain broken at seq 2: row contents do not match its hash (edited)"


def test_verify_names_rows_deleted_from_the_end_by_the_anchor(db):
    _log_of(db, 5)
    _tamper(db, "DELETE FROM audit_log WHERE seq >= 4")
    assert _verify_error(db) == ("audit chain broken at seq 4: rows 4..5 missing (the head anchor records seq 5)")


def test_verify_refuses_a_log_with_rows_but_no_anchor(db):
    _log_of(db, 2)
    audit_anchor(db).unlink()
    assert _verify_error(db) == "audit chain unverifiable: head anchor audit.db.head missing or garbled"


def test_verify_refuses_a_rewritten_chain_that_no_longer_matches_the_anchor(db):
    _log_of(db, 3)
    rows = _rows(db)
    forged = row_hash(3, rows[2].ts_utc, "c", "forged", "info", "system", rows[2].context, rows[1].row_hash)
    _tamper(db, f"UPDATE audit_log SET event = 'forged', row_hash = '{forged}' WHERE seq = 3")
    assert _verify_error(db) == "audit chain broken at seq 3: does not match the head anchor"


def test_verify_accepts_an_anchor_behind_the_log(db):
    _log_of(db, 3)
    anchor = audit_anchor(db)
    rows = _rows(db)
    anchor.write_text(f"2 {rows[1].row_hash}\n")
    with AuditLog(db, readonly=True) as audit:
        assert audit.verify() == 3
    anchor.write_text(f"2 {rows[0].row_hash}\n")
    assert _verify_error(db) == "audit chain broken at seq 2: does not match the head anchor"


def test_an_anchor_at_zero_on_an_empty_log_verifies(db):
    with AuditLog(db) as audit:
        audit_anchor(db).write_text(f"0 {GENESIS}\n")
        assert audit.verify() == 0
