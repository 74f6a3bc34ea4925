"""Control flags, in-process and exact (mutmut sees these): every refusal names its rule, every request is
written, ordered, quarantined and acknowledged exactly as the supervisor relies on.

Real homes, real files, the real ``AuditLog``; the ordering lock is contended through a second open file
description of the same ``control/.lock`` (``flock`` locks conflict between descriptions, even in one process).
"""

from __future__ import annotations

import fcntl
import json
import os
import re
import time

import pytest

from tbot_core import control
from tbot_core.audit import AuditLog
from tbot_core.control import (
    ControlFlag,
    FlagError,
    Operator,
    acknowledge,
    flag_path,
    parse_flag,
    pending,
    read_flags,
    write_flag,
)
from tbot_core.paths import HomePaths

NONCE = "0123456789abcdef0123456789abcdef"
WHEN = "2026-03-02T15:00:00.000001Z"
WHEN_STAMP = "20260302T150000000001Z"
ALICE = Operator("alice", "203.0.113.9")


def record(**changes) -> dict:
    base = {
        "flag": "stop",
        "requested_utc": WHEN,
        "operator": {"user": "bob", "ssh_client": None},
        "reason": "by hand",
        "nonce": NONCE,
        "source": "cli",
    }
    return {**base, **changes}


def raw(**changes) -> bytes:
    return json.dumps(record(**changes)).encode()


def refusal(name: str, data: bytes) -> str:
    with pytest.raises(FlagError) as info:
        parse_flag(name, data)
    return str(info.value)


def control_files(paths: HomePaths) -> list[str]:
    return sorted(p.name for p in paths.control_dir.iterdir() if p.name.startswith("control_"))


# -- the operator -------------------------------------------------------------------------------------------------
def test_the_operator_is_the_login_user_and_the_ssh_client_address_wins_over_ssh_connection(monkeypatch):
    monkeypatch.setattr(control.getpass, "getuser", lambda: "carol")
    monkeypatch.setenv("SSH_CLIENT", "192.0.2.1 5000 22")
    monkeypatch.setenv("SSH_CONNECTION", "198.51.100.7 4000 10.0.0.1 22")
    assert Operator.current() == Operator("carol", "192.0.2.1")
    monkeypatch.delenv("SSH_CLIENT")
    assert Operator.current() == Operator("carol", "198.51.100.7")
    monkeypatch.delenv("SSH_CONNECTION")
    assert Operator.current() == Operator("carol", None)


@pytest.mark.parametrize("error", [KeyError, OSError])
def test_an_operator_without_a_user_name_is_named_by_uid(monkeypatch, error):
    def no_name():
        raise error("no passwd entry")

    monkeypatch.setattr(control.getpass, "getuser", no_name)
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    assert Operator.current() == Operator(f"uid{os.getuid()}", None)


def test_operator_describes_itself_with_its_ssh_address_when_it_has_one():
    assert ALICE.describe() == "alice@203.0.113.9"
    assert Operator("bob").describe() == "bob"


# -- writing --------------------------------------------------------------------------------------------------------
def test_a_written_request_holds_exactly_its_record_as_sorted_json(home_paths):
    flag = write_flag(home_paths, "reset", reason="  reviewed \n the   losses ", source="ui", operator=ALICE)
    path = flag_path(home_paths, flag)
    assert path.name == f"control_reset.{flag_path(home_paths, flag).name.split('.')[1]}.{flag.nonce}.flag"
    text = path.read_text()
    assert text == json.dumps(
        {
            "flag": "reset",
            "nonce": flag.nonce,
            "operator": {"ssh_client": "203.0.113.9", "user": "alice"},
            "reason": "reviewed the losses",
            "requested_utc": flag.requested_utc,
            "source": "ui",
        }
    )
    assert (flag.flag, flag.reason, flag.source, flag.operator) == ("reset", "reviewed the losses", "ui", ALICE)
    assert len(flag.nonce) == 32 and flag.requested_utc.endswith("Z")
    assert parse_flag(path.name, path.read_bytes()) == flag
    assert control_files(home_paths) == [path.name]


def test_a_request_without_an_operator_is_written_for_the_current_user(home_paths, monkeypatch):
    monkeypatch.setattr(control.getpass, "getuser", lambda: "dave")
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    monkeypatch.delenv("SSH_CONNECTION", raising=False)
    flag = write_flag(home_paths, "start")
    assert flag.operator == Operator("dave") and flag.source == "cli" and flag.reason == ""


def test_a_request_creates_a_missing_control_folder(tmp_path):
    paths = HomePaths(tmp_path / "bare")
    flag = write_flag(paths, "defense_on", operator=ALICE)
    assert flag_path(paths, flag).is_file()


def test_write_flag_refuses_unknown_flags_missing_reasons_long_reasons_and_unknown_sources(home_paths):
    with pytest.raises(FlagError) as info:
        write_flag(home_paths, "selfdestruct", operator=ALICE)
    assert str(info.value) == (
        "unknown control flag 'selfdestruct'; expected one of start, stop, kill, reset, defense_on, defense_off"
    )
    for name in ("kill", "reset"):
        with pytest.raises(FlagError) as info:
            write_flag(home_paths, name, reason=" \t ", operator=ALICE)
        assert str(info.value) == f"control flag {name!r} needs a reason"
    with pytest.raises(FlagError) as info:
        write_flag(home_paths, "stop", reason="x" * 501, operator=ALICE)
    assert str(info.value) == "reason: expected at most 500 characters"
    with pytest.raises(FlagError) as info:
        write_flag(home_paths, "stop", source="web", operator=ALICE)
    assert str(info.value) == "flag source 'web': expected cli, ui or system"
    assert control_files(home_paths) == [], "a refused request writes nothing"


def test_write_flag_accepts_a_500_character_reason_every_source_and_stop_without_a_reason(home_paths):
    assert write_flag(home_paths, "kill", reason="x" * 500, operator=ALICE).reason == "x" * 500
    for source in ("cli", "ui", "system"):
        assert write_flag(home_paths, "stop", source=source, operator=ALICE).source == source
    assert len(control_files(home_paths)) == 4


def test_the_ordering_lock_file_is_private(home_paths):
    write_flag(home_paths, "stop", operator=ALICE)
    assert home_paths.control_lock.is_file()
    assert home_paths.control_lock.stat().st_mode & 0o777 == 0o600


# -- the ordering lock --------------------------------------------------------------------------------------------
def _hold(paths: HomePaths, kind: int) -> int:
    fd = os.open(paths.control_lock, os.O_RDWR | os.O_CREAT, 0o600)
    fcntl.flock(fd, kind | fcntl.LOCK_NB)
    return fd


def test_the_ordering_lock_is_held_at_once_when_free_and_released_on_exit(home_paths):
    for kind in (fcntl.LOCK_EX, fcntl.LOCK_SH, fcntl.LOCK_EX):
        start = time.monotonic()
        with control._ordering_lock(home_paths, kind) as held:
            assert held is True
            with pytest.raises(BlockingIOError):
                _hold(home_paths, fcntl.LOCK_EX)
        assert time.monotonic() - start < 0.5
    os.close(_hold(home_paths, fcntl.LOCK_EX))  # released: another description takes it at once


def test_shared_holders_do_not_wait_for_each_other(home_paths):
    fd = _hold(home_paths, fcntl.LOCK_SH)
    try:
        start = time.monotonic()
        with control._ordering_lock(home_paths, fcntl.LOCK_SH) as held:
            assert held is True
        assert time.monotonic() - start < 0.5
    finally:
        os.close(fd)


def test_a_stuck_holder_delays_the_lock_by_the_wait_then_it_goes_ahead_without_it(home_paths, monkeypatch):
    monkeypatch.setattr(control, "LOCK_WAIT_S", 0.3)
    fd = _hold(home_paths, fcntl.LOCK_EX)
    try:
        start = time.monotonic()
        with control._ordering_lock(home_paths, fcntl.LOCK_SH) as held:
            waited = time.monotonic() - start
        assert held is False and 0.3 <= waited < 1.5
        start = time.monotonic()
        flag = write_flag(home_paths, "stop", operator=ALICE)
        assert 0.3 <= time.monotonic() - start < 1.5
        assert read_flags(home_paths) == ([flag], [])
    finally:
        os.close(fd)


def test_a_lock_released_while_waiting_is_taken(home_paths, monkeypatch):
    fd = _hold(home_paths, fcntl.LOCK_EX)
    real_sleep = time.sleep

    def release_then_sleep(seconds: float) -> None:
        os.close(fd)
        monkeypatch.setattr(control.time, "sleep", real_sleep)
        real_sleep(seconds)

    monkeypatch.setattr(control.time, "sleep", release_then_sleep)
    with control._ordering_lock(home_paths, fcntl.LOCK_EX) as held:
        assert held is True


def test_an_unopenable_lock_yields_not_held_and_the_request_still_lands(home_paths):
    home_paths.control_lock.mkdir()
    with control._ordering_lock(home_paths, fcntl.LOCK_EX) as held:
        assert held is False
    flag = write_flag(home_paths, "stop", operator=ALICE)
    assert read_flags(home_paths) == ([flag], [])


# -- parsing --------------------------------------------------------------------------------------------------------
def test_a_complete_record_parses_to_exactly_its_fields():
    parsed = parse_flag("control_kill.flag", raw(flag="kill", reason="runaway", source="system"))
    assert parsed == ControlFlag("kill", WHEN, Operator("bob", None), "runaway", NONCE, "system")
    named = parse_flag(f"control_stop.{WHEN_STAMP}.{NONCE}.flag", raw(operator={"user": "a.b@c-d", "ssh_client": "x"}))
    assert named == ControlFlag("stop", WHEN, Operator("a.b@c-d", "x"), "by hand", NONCE, "cli")


def test_a_flag_file_of_exactly_the_size_limit_is_read_one_byte_more_is_refused():
    data = raw()
    padded = data[:-1] + b" " * (control.MAX_FLAG_BYTES - len(data)) + b"}"
    assert len(padded) == 4096 and parse_flag("control_stop.flag", padded).nonce == NONCE
    assert refusal("control_stop.flag", padded + b" ") == "control_stop.flag: larger than 4096 bytes"


@pytest.mark.parametrize("data", [b"\xff\xfe{}", b'{"flag": ', b"", b"stop"])
def test_bytes_that_are_not_utf8_json_are_refused(data):
    assert refusal("control_stop.flag", data) == "control_stop.flag: not valid UTF-8 JSON"


def test_json_that_is_not_an_object_is_refused():
    assert refusal("control_stop.flag", b'["stop"]') == "control_stop.flag: expected a JSON object"


@pytest.mark.parametrize("change", ["missing", "extra"])
def test_a_record_with_a_missing_or_extra_field_is_refused(change):
    data = record()
    if change == "missing":
        del data["source"]
    else:
        data["priority"] = 1
    assert refusal("control_stop.flag", json.dumps(data).encode()) == (
        "control_stop.flag: expected exactly the fields flag, nonce, operator, reason, requested_utc, source"
    )


@pytest.mark.parametrize(
    "name, flag",
    [
        ("control_stop.flag", "selfdestruct_with_a_long_name"),
        ("control_start.flag", "stop"),
        ("stop.flag", "stop"),
        (f"control_start.{WHEN_STAMP}.{NONCE}.flag", "stop"),
    ],
)
def test_a_flag_field_that_is_unknown_or_disagrees_with_the_file_name_is_refused(name, flag):
    assert refusal(name, raw(flag=flag)) == (
        f"{name}: flag field {flag[:20]!r} does not match a known flag of this file name"
    )


@pytest.mark.parametrize(
    "operator",
    ["bob", None, {"user": "bob"}, {"user": "bob", "ssh_client": None, "uid": 0}],
)
def test_an_operator_that_is_not_exactly_user_and_ssh_client_is_refused(operator):
    assert refusal("control_stop.flag", raw(operator=operator)) == (
        "control_stop.flag: operator: expected an object with user and ssh_client"
    )


@pytest.mark.parametrize("user", [7, "", "bob smith", "x" * 65, "bob\n"])
def test_an_operator_user_that_is_not_a_user_name_is_refused(user):
    assert refusal("control_stop.flag", raw(operator={"user": user, "ssh_client": None})) == (
        "control_stop.flag: operator.user: expected a user name"
    )


def test_a_64_character_user_and_ssh_client_are_accepted_65_are_not():
    accepted = parse_flag("control_stop.flag", raw(operator={"user": "u" * 64, "ssh_client": "1" * 64}))
    assert accepted.operator == Operator("u" * 64, "1" * 64)
    for ssh in ("1" * 65, 12):
        assert refusal("control_stop.flag", raw(operator={"user": "bob", "ssh_client": ssh})) == (
            "control_stop.flag: operator.ssh_client: expected an address or null"
        )


@pytest.mark.parametrize("field", ["requested_utc", "reason", "nonce", "source"])
def test_each_text_field_must_be_text(field):
    assert refusal("control_stop.flag", raw(**{field: 5})) == f"control_stop.flag: {field}: expected text"


@pytest.mark.parametrize("when", ["yesterday", "2026-03-02T15:00:00", "0001-01-01T00:00:00+01:00"])
def test_a_requested_time_that_is_not_an_iso_utc_time_is_refused(when):
    assert refusal("control_stop.flag", raw(requested_utc=when)) == (
        "control_stop.flag: requested_utc: expected an ISO 8601 UTC time"
    )


def test_an_unknown_source_is_refused():
    assert refusal("control_stop.flag", raw(source="web")) == "control_stop.flag: source: expected cli, ui or system"


@pytest.mark.parametrize("flag", ["kill", "reset"])
def test_kill_and_reset_records_need_a_reason_other_flags_do_not(flag):
    assert refusal(f"control_{flag}.flag", raw(flag=flag, reason=" \t")) == (
        f"control_{flag}.flag: reason: required for {flag}"
    )
    assert parse_flag("control_stop.flag", raw(reason="")).reason == ""


@pytest.mark.parametrize("nonce", ["0" * 31, "0" * 33, "A" * 32, "g" * 32, "0" * 32 + "\n"])
def test_a_nonce_that_is_not_32_lowercase_hex_digits_is_refused(nonce):
    assert refusal("control_stop.flag", raw(nonce=nonce)) == "control_stop.flag: nonce: expected 32 hex digits"


def test_a_request_name_must_carry_the_records_own_stamp_and_nonce():
    other_nonce = "f" * 32
    for name in (
        f"control_stop.{WHEN_STAMP}.{other_nonce}.flag",
        f"control_stop.20260302T150000000002Z.{NONCE}.flag",
    ):
        assert refusal(name, raw()) == f"{name}: file name does not match the record's requested_utc and nonce"
    assert parse_flag(f"control_stop.{WHEN_STAMP}.{NONCE}.flag", raw()).nonce == NONCE


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
