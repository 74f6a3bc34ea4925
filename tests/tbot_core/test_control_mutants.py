"""Control flags, in-process and exact (mutmut sees these): the operator, writing a request, the ordering lock
and parsing, where every refusal names its rule.

Real homes and real files; the ordering lock is contended through a second open file description of the same
``control/.lock`` (``flock`` locks conflict between descriptions, even in one process).  Reading, quarantine,
acknowledging and ``pending`` are in ``test_control_queue_mutants.py``.
"""

from __future__ import annotations

import fcntl
import json
import os
import time

import pytest

from tbot_core import control
from tbot_core.control import (
    ControlFlag,
    FlagError,
    Operator,
    flag_path,
    parse_flag,
    read_flags,
    write_flag,
)
from tbot_core.paths import HomePaths

from .control_kit import ALICE, NONCE, WHEN, WHEN_STAMP, control_files, raw, record, refusal


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
        "unknown control flag 'selfdestruct'; expected one of start, stop, kill, reset, defense_on, defense_off, ack_mismatch"
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
