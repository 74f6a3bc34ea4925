"""Control flags once written, in-process and exact (mutmut sees these): reading them in order, quarantining
what is bad, acknowledging what the core acted on, and listing what is pending.

Real homes, real files, the real ``AuditLog``.
"""

from __future__ import annotations

import json
import os
import re

import pytest

from tbot_core import control
from tbot_core.audit import AuditLog
from tbot_core.control import (
    FlagError,
    acknowledge,
    flag_path,
    parse_flag,
    pending,
    read_flags,
    write_flag,
)
from tbot_core.paths import HomePaths

from .control_kit import ALICE, NONCE, WHEN, WHEN_STAMP, control_files, raw, record


# -- reading, ordering, quarantine ------------------------------------------------------------------------------------
def test_reading_a_home_without_a_control_folder_finds_nothing(tmp_path):
    assert read_flags(HomePaths(tmp_path / "none")) == ([], [])
    assert pending(HomePaths(tmp_path / "none")) == []


def test_a_quarantined_file_is_moved_reported_and_audited_with_its_problem(home_paths):
    home_paths.flag_file("reset").write_text('{"flag": "reset", ')
    with AuditLog(home_paths.audit_db) as audit:
        valid, bad = read_flags(home_paths, audit)
        rows = audit.tail(5, category="control")
    assert valid == [] and bad == [
        control.Quarantined("control_reset.flag", "control_reset.flag: not valid UTF-8 JSON")
    ]
    [moved] = list(home_paths.quarantine_dir.iterdir())
    assert moved.name.startswith("control_reset.flag.") and moved.read_text() == '{"flag": "reset", '
    assert control_files(home_paths) == []
    [row] = rows
    assert (row.category, row.event, row.severity) == ("control", "flag_quarantined", "warning")
    assert row.context_dict() == {"file": "control_reset.flag", "problem": "control_reset.flag: not valid UTF-8 JSON"}


def test_a_quarantined_file_does_not_stop_the_files_after_it_from_being_read(home_paths):
    home_paths.flag_file("defense_on").write_text("{")  # sorts before every control_start/control_stop name
    home_paths.flag_file("kill").write_text("[]")
    flag = write_flag(home_paths, "stop", operator=ALICE)
    valid, bad = read_flags(home_paths)
    assert valid == [flag] and [b.file for b in bad] == ["control_defense_on.flag", "control_kill.flag"]


def test_each_quarantined_file_is_kept_under_its_own_stamped_name(home_paths):
    for content in ("first garbage", "second garbage"):
        home_paths.flag_file("stop").write_text(content)
        assert len(read_flags(home_paths)[1]) == 1
    kept = sorted(home_paths.quarantine_dir.iterdir())
    assert [p.read_text() for p in kept] == ["first garbage", "second garbage"]
    assert all(re.fullmatch(r"control_stop\.flag\.\d{8}T\d{12}Z", p.name) for p in kept)


def test_hidden_files_and_folders_in_the_control_folder_are_left_alone(home_paths):
    (home_paths.control_dir / ".control_stop.flag.tmp").write_text("{")
    (home_paths.control_dir / "control_stop.flag").mkdir()
    flag = write_flag(home_paths, "start", operator=ALICE)
    assert read_flags(home_paths) == ([flag], [])
    assert (home_paths.control_dir / ".control_stop.flag.tmp").exists()
    assert (home_paths.control_dir / "control_stop.flag").is_dir()
    assert [p.name for p in home_paths.quarantine_dir.iterdir()] == []


def test_a_file_that_vanishes_is_skipped_and_the_files_after_it_are_still_read(home_paths):
    (home_paths.control_dir / "control_defense_on.flag").symlink_to("gone")  # reading it: FileNotFoundError
    flag = write_flag(home_paths, "stop", operator=ALICE)
    assert read_flags(home_paths) == ([flag], [])
    assert (home_paths.control_dir / "control_defense_on.flag").is_symlink(), "not quarantined: it is not there"


def test_an_unreadable_file_is_quarantined_as_unreadable(home_paths):
    loop = home_paths.control_dir / "control_stop.flag"
    loop.symlink_to(loop.name)  # reading it: OSError (too many levels of symbolic links)
    valid, bad = read_flags(home_paths)
    assert valid == [] and bad == [control.Quarantined("control_stop.flag", "control_stop.flag: unreadable")]
    assert not os.path.lexists(loop)


def test_a_refusal_with_a_hint_is_reported_on_one_line(home_paths, monkeypatch):
    def hinted(name, data):
        raise FlagError(f"{name}: bad\n  twice", hint="look")

    monkeypatch.setattr(control, "parse_flag", hinted)
    home_paths.flag_file("stop").write_text("{}")
    assert read_flags(home_paths)[1] == [
        control.Quarantined("control_stop.flag", "control_stop.flag: bad twice (hint: look)")
    ]


def test_requests_come_back_oldest_first_then_by_name_and_a_repeated_nonce_is_quarantined(home_paths):
    def put(flag: str, when: str, when_stamp: str, nonce: str) -> None:
        home_paths.flag_request_file(flag, when_stamp, nonce).write_text(
            json.dumps(record(flag=flag, requested_utc=when, nonce=nonce))
        )

    put("stop", "2026-03-02T15:00:00.000002Z", "20260302T150000000002Z", "1" * 32)
    put("stop", WHEN, WHEN_STAMP, "f" * 32)
    put("defense_on", WHEN, WHEN_STAMP, "9" * 32)
    put("start", "2026-03-02T15:00:00.000003Z", "20260302T150000000003Z", "f" * 32)  # a copy of the stop's nonce
    put("kill", "2026-03-02T15:00:00.000004Z", "20260302T150000000004Z", "4" * 32)  # after the copy: still read
    with AuditLog(home_paths.audit_db) as audit:
        valid, bad = read_flags(home_paths, audit)
        row = audit.tail(1)[0]
    assert [(f.flag, f.nonce) for f in valid] == [
        ("defense_on", "9" * 32),
        ("stop", "f" * 32),
        ("stop", "1" * 32),
        ("kill", "4" * 32),
    ]
    name = f"control_start.20260302T150000000003Z.{'f' * 32}.flag"
    assert bad == [control.Quarantined(name, f"{name}: nonce repeats an earlier pending request")]
    assert row.event == "flag_quarantined" and row.context_dict()["file"] == name
    assert pending(home_paths) == [flag_path(home_paths, f).name for f in valid]


def test_a_legacy_request_is_renamed_to_its_own_request_name_and_read(home_paths):
    home_paths.flag_file("stop").write_text(json.dumps(record()))
    valid, bad = read_flags(home_paths)
    assert bad == [] and valid == [parse_flag("control_stop.flag", raw())]
    assert control_files(home_paths) == [f"control_stop.{WHEN_STAMP}.{NONCE}.flag"]


def test_a_legacy_copy_of_a_pending_request_is_quarantined_and_the_request_kept(home_paths):
    home_paths.flag_request_file("stop", WHEN_STAMP, NONCE).write_text(json.dumps(record()))
    home_paths.flag_file("stop").write_text(json.dumps(record()))
    valid, bad = read_flags(home_paths)
    name = f"control_stop.{WHEN_STAMP}.{NONCE}.flag"
    assert [f.nonce for f in valid] == [NONCE]
    assert bad == [control.Quarantined("control_stop.flag", f"control_stop.flag: same request as the pending {name}")]
    assert control_files(home_paths) == [name]


def test_a_legacy_file_replaced_while_it_was_renamed_is_read_again(home_paths, monkeypatch):
    home_paths.flag_file("stop").write_text(json.dumps(record()))
    real_rename = os.rename

    def rename_then_garble(src, dst):
        real_rename(src, dst)
        os.chmod(dst, 0o600)
        open(dst, "w").write('{"flag": "stop"}')  # replaced by hand at this very moment

    monkeypatch.setattr(control.os, "rename", rename_then_garble)
    valid, bad = read_flags(home_paths)
    assert valid == [] and [b.problem.split(": ", 1)[1] for b in bad] == [
        "expected exactly the fields flag, nonce, operator, reason, requested_utc, source"
    ]


def test_a_file_quarantined_twice_in_one_stamp_does_not_fail_the_read(home_paths, monkeypatch):
    monkeypatch.setattr(control, "stamp", lambda *a: "20260101T000000000000Z")
    for _ in range(2):
        home_paths.flag_file("stop").write_text("garbage")
        assert len(read_flags(home_paths)[1]) == 1


def test_quarantining_a_file_that_is_already_gone_is_not_an_error(home_paths):
    control._quarantine(home_paths, home_paths.control_dir / "control_stop.flag")
    assert [p.name for p in home_paths.quarantine_dir.iterdir()] == []


def test_quarantine_creates_its_folder(home_paths):
    home_paths.quarantine_dir.rmdir()
    home_paths.flag_file("kill").write_text("{}")
    read_flags(home_paths)
    assert [p.name.split(".flag.")[0] for p in home_paths.quarantine_dir.iterdir()] == ["control_kill"]


# -- acknowledging --------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("flag, severity", [("kill", "warning"), ("reset", "warning"), ("stop", "info")])
def test_acknowledging_audits_the_whole_request_and_removes_only_its_file(home_paths, flag, severity):
    target = write_flag(home_paths, flag, reason="drill", source="ui", operator=ALICE)
    other = write_flag(home_paths, flag, reason="drill", source="ui", operator=ALICE)
    with AuditLog(home_paths.audit_db) as audit:
        acknowledge(home_paths, audit, target, "done", attempt=2)
        [row] = audit.tail(5, category="control")
    assert (row.category, row.event, row.severity, row.actor) == (
        "control",
        f"flag_{flag}_acknowledged",
        severity,
        "system",
    )
    assert row.context_dict() == {
        "flag": flag,
        "requested_utc": target.requested_utc,
        "operator": "alice",
        "ssh_client": "203.0.113.9",
        "reason": "drill",
        "source": "ui",
        "nonce": target.nonce,
        "outcome": "done",
        "attempt": 2,
    }
    assert control_files(home_paths) == [flag_path(home_paths, other).name]


def test_acknowledging_removes_a_legacy_file_of_the_same_request_but_not_of_another(home_paths):
    mine = parse_flag("control_stop.flag", raw())
    home_paths.flag_file("stop").write_text(json.dumps(record()))
    with AuditLog(home_paths.audit_db) as audit:
        acknowledge(home_paths, audit, mine, "done")
        assert control_files(home_paths) == []
        home_paths.flag_file("stop").write_text(json.dumps(record(nonce="e" * 32)))
        acknowledge(home_paths, audit, mine, "done")
        assert control_files(home_paths) == ["control_stop.flag"], "another request stays pending"
        home_paths.flag_file("stop").write_text("not json")
        acknowledge(home_paths, audit, mine, "done")
        assert control_files(home_paths) == ["control_stop.flag"], "the core quarantines it on its next read"
        assert len(audit.tail(10, category="control")) == 3


# -- pending --------------------------------------------------------------------------------------------------------
def test_pending_lists_requests_oldest_first_and_unreadable_files_last_by_name_without_moving_them(home_paths):
    home_paths.flag_file("stop").write_text("garbage")
    home_paths.flag_file("kill").write_text("{}")
    late = write_flag(home_paths, "start", operator=ALICE)
    home_paths.flag_request_file("defense_off", WHEN_STAMP, NONCE).write_text(json.dumps(record(flag="defense_off")))
    home_paths.flag_request_file("stop", "20200101T000000000000Z", "5" * 32).write_text(
        json.dumps(record(requested_utc="2020-01-01T00:00:00.000000Z", nonce="5" * 32))
    )
    (home_paths.control_dir / "notes.txt").write_text("not a flag")
    assert pending(home_paths) == [
        f"control_stop.20200101T000000000000Z.{'5' * 32}.flag",  # oldest first, though its name sorts last
        f"control_defense_off.{WHEN_STAMP}.{NONCE}.flag",
        flag_path(home_paths, late).name,
        "control_kill.flag",
        "control_stop.flag",
    ]
    assert [p.name for p in home_paths.quarantine_dir.iterdir()] == []
