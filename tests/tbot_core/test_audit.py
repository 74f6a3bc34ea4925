"""The audit log: append-only, hash-chained, and tampering behind its back is found."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import apsw
import pytest

from tbot_core.audit import AuditEvent, AuditLog
from tbot_core.errors import IntegrityError
from tbot_core.sanitize import register_secret


@pytest.fixture
def log(tmp_path: Path):
    with AuditLog(tmp_path / "audit.db") as audit:
        yield audit


def _tamper(path: Path, sql: str) -> None:
    """Edit the file the way an attacker with plain sqlite3 would: drop the guard triggers first."""
    conn = sqlite3.connect(path)
    conn.execute("DROP TRIGGER audit_log_no_update")
    conn.execute("DROP TRIGGER audit_log_no_delete")
    conn.execute(sql)
    conn.commit()
    conn.close()


def test_append_chains_each_row_to_the_previous(log):
    first = log.append("test", "one", {"a": 1})
    second = log.append("test", "two", {"b": 2})
    rows = log.tail(10)
    assert [r.seq for r in rows] == [first, second] == [1, 2]
    assert rows[1].prev_hash == rows[0].row_hash
    assert log.verify() == 2


def test_update_and_delete_are_refused_by_triggers(log):
    log.append("test", "one")
    with pytest.raises(apsw.ConstraintError, match="append-only"):
        log.conn.execute("UPDATE audit_log SET event='x'")
    with pytest.raises(apsw.ConstraintError, match="append-only"):
        log.conn.execute("DELETE FROM audit_log")


def test_verify_names_the_first_edited_row(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        audit.append_many([AuditEvent("c", f"e{i}", {"i": i}) for i in range(10)])
    _tamper(path, "UPDATE audit_log SET context='{\"i\":99}' WHERE seq=4")
    with AuditLog(path, readonly=True) as audit, pytest.raises(IntegrityError, match="seq 4.*edited"):
        audit.verify()


def test_verify_names_a_deleted_row(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        audit.append_many([AuditEvent("c", f"e{i}", {}) for i in range(10)])
    _tamper(path, "DELETE FROM audit_log WHERE seq=6")
    with AuditLog(path, readonly=True) as audit, pytest.raises(IntegrityError, match="seq 6: row missing"):
        audit.verify()


def test_rehashing_an_edited_row_still_breaks_the_next_link(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        audit.append_many([AuditEvent("c", f"e{i}", {}) for i in range(5)])
    from tbot_core.audit import row_hash

    conn = sqlite3.connect(path)
    seq, ts, cat, ev, sev, actor, ctx, prev, _ = conn.execute("SELECT * FROM audit_log WHERE seq=2").fetchone()
    forged = row_hash(seq, ts, cat, "forged", sev, actor, ctx, prev)
    conn.close()
    _tamper(path, f"UPDATE audit_log SET event='forged', row_hash='{forged}' WHERE seq=2")
    with AuditLog(path, readonly=True) as audit, pytest.raises(IntegrityError, match="seq 3: prev_hash"):
        audit.verify()


def test_secret_values_and_secret_fields_never_reach_a_row(log):
    register_secret("sk-live-ABCDEF123456")
    log.append("test", "leak", {"api_key": "whatever", "note": "token sk-live-ABCDEF123456 used"})
    raw = log.path.read_bytes() + Path(str(log.path) + "-wal").read_bytes()
    assert b"sk-live-ABCDEF123456" not in raw and b"whatever" not in raw
    ctx = log.tail(1)[0].context_dict()
    assert ctx["api_key"] == "***" and "***" in ctx["note"]


def test_batched_appends_of_100k_events_keep_the_chain(tmp_path):
    with AuditLog(tmp_path / "audit.db") as audit:
        for start in range(0, 100_000, 10_000):
            audit.append_many([AuditEvent("bulk", "tick", {"i": i}) for i in range(start, start + 10_000)])
        assert audit.count() == 100_000
        assert audit.verify() == 100_000


def test_two_writers_interleave_without_forking_the_chain(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as a, AuditLog(path) as b:
        for i in range(50):
            (a if i % 2 else b).append("c", f"e{i}")
        assert a.verify() == 50


def test_tail_filters_by_category_severity_and_search(log):
    log.append("control", "flag_stop_acknowledged", {"operator": "alice"})
    log.append("ledger_batch", "committed", {"rows": 3}, severity="info")
    log.append("kill_switch", "triggered", {"cause": "loss"}, severity="critical")
    assert [r.event for r in log.tail(10, category="control")] == ["flag_stop_acknowledged"]
    assert [r.category for r in log.tail(10, severity="critical")] == ["kill_switch"]
    assert [r.category for r in log.tail(10, search="alice")] == ["control"]


def test_verify_catches_deletion_of_the_newest_rows(tmp_path):
    """The head anchor beside the database records the newest committed row: a cut tail is found."""
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        audit.append_many([AuditEvent("c", f"e{i}", {}) for i in range(10)])
    _tamper(path, "DELETE FROM audit_log WHERE seq >= 9")
    with AuditLog(path, readonly=True) as audit, pytest.raises(IntegrityError, match="rows 9..10 missing"):
        audit.verify()


def test_verify_refuses_a_log_whose_anchor_was_removed(tmp_path):
    path = tmp_path / "audit.db"
    with AuditLog(path) as audit:
        audit.append("c", "e")
        audit.anchor.unlink()
        with pytest.raises(IntegrityError, match="anchor .* missing"):
            audit.verify()


def test_the_anchor_only_moves_forward(tmp_path):
    from tbot_core.audit import advance_anchor, read_anchor

    anchor = tmp_path / "audit.db.head"
    advance_anchor(anchor, 5, "a" * 64)
    advance_anchor(anchor, 3, "b" * 64)  # a slower writer finishing late must not pull it back
    assert read_anchor(anchor) == (5, "a" * 64)
