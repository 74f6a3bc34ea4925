"""Control flags: written atomically with who/when/why; garbled or unknown flags are quarantined, never acted on."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tbot_core.audit import AuditLog
from tbot_core.control import FLAGS, FlagError, Operator, acknowledge, flag_path, parse_flag, read_flags, write_flag


def flag_files(paths) -> list[str]:
    return sorted(p.name for p in paths.control_dir.glob("control_*.flag"))


def test_written_flag_records_operator_time_and_reason(home_paths, monkeypatch):
    monkeypatch.setenv("SSH_CLIENT", "203.0.113.9 51122 22")
    flag = write_flag(home_paths, "kill", reason="runaway losses", source="ui")
    path = flag_path(home_paths, flag)
    assert path.name.startswith("control_kill.") and flag_files(home_paths) == [path.name]
    data = json.loads(path.read_text())
    assert data["operator"]["ssh_client"] == "203.0.113.9"
    assert data["reason"] == "runaway losses" and data["source"] == "ui" and data["requested_utc"].endswith("Z")
    assert parse_flag(path.name, path.read_bytes()) == flag


def test_kill_and_reset_need_a_reason(home_paths):
    for name in ("kill", "reset"):
        with pytest.raises(FlagError, match="needs a reason"):
            write_flag(home_paths, name)


def test_unknown_flag_name_is_refused(home_paths):
    with pytest.raises(FlagError, match="unknown control flag"):
        write_flag(home_paths, "selfdestruct")


def test_garbled_flag_is_quarantined_and_audited_not_returned(home_paths):
    home_paths.flag_file("reset").write_text('{"flag": "reset", "reason": ')
    with AuditLog(home_paths.audit_db) as audit:
        valid, bad = read_flags(home_paths, audit)
        assert valid == [] and bad[0].file == "control_reset.flag"
        assert not home_paths.flag_file("reset").exists()
        assert any(p.name.startswith("control_reset.flag.") for p in home_paths.quarantine_dir.iterdir())
        assert audit.tail(1)[0].event == "flag_quarantined"


def test_flag_whose_content_names_another_flag_is_quarantined(home_paths):
    path = flag_path(home_paths, write_flag(home_paths, "stop"))
    path.rename(path.with_name(path.name.replace("control_stop.", "control_start.")))
    valid, bad = read_flags(home_paths)
    assert valid == [] and "does not match" in bad[0].problem


def test_plain_legacy_name_whose_content_names_another_flag_is_quarantined(home_paths):
    path = flag_path(home_paths, write_flag(home_paths, "stop"))
    path.rename(home_paths.flag_file("reset"))
    valid, bad = read_flags(home_paths)
    assert valid == [] and bad[0].file == "control_reset.flag" and "does not match" in bad[0].problem


def test_acknowledge_audits_and_removes_only_the_same_request(home_paths):
    first = write_flag(home_paths, "stop", reason="first")
    with AuditLog(home_paths.audit_db) as audit:
        second = write_flag(home_paths, "stop", reason="second")
        assert len(flag_files(home_paths)) == 2, "a second request of the same flag must not replace the first"
        acknowledge(home_paths, audit, first, "done")
        assert flag_files(home_paths) == [flag_path(home_paths, second).name], "the other request stays pending"
        acknowledge(home_paths, audit, second, "done")
        assert flag_files(home_paths) == []
        row = audit.tail(1)[0]
        assert row.event == "flag_stop_acknowledged" and row.context_dict()["reason"] == "second"


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(name=st.sampled_from(FLAGS), raw=st.binary(max_size=600))
def test_arbitrary_bytes_in_a_flag_file_are_parsed_or_refused_cleanly(name, raw):
    try:
        flag = parse_flag(f"control_{name}.flag", raw)
    except FlagError:
        return
    assert flag.flag == name


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    payload=st.recursive(
        st.none() | st.booleans() | st.integers() | st.text(max_size=20),
        lambda kids: st.lists(kids, max_size=4) | st.dictionaries(st.text(max_size=12), kids, max_size=6),
        max_leaves=20,
    )
)
def test_arbitrary_json_in_a_flag_file_is_parsed_or_refused_cleanly(payload):
    try:
        parse_flag("control_stop.flag", json.dumps(payload).encode())
    except FlagError:
        pass


def test_read_flags_quarantines_fuzzed_files_and_never_raises(home_paths):
    samples = [b"", b"\xff\xfe", b"[]", b"{}", json.dumps({"flag": "stop"}).encode(), b"x" * 5000]
    for i, raw in enumerate(samples):
        (home_paths.control_dir / "control_stop.flag").write_bytes(raw)
        valid, bad = read_flags(home_paths)
        assert valid == [] and len(bad) == 1, i
    assert len(list(home_paths.quarantine_dir.iterdir())) == len(samples)


def test_operator_describes_ssh_origin(monkeypatch):
    monkeypatch.delenv("SSH_CLIENT", raising=False)
    monkeypatch.setenv("SSH_CONNECTION", "198.51.100.7 4000 10.0.0.1 22")
    assert Operator.current().ssh_client == "198.51.100.7"


def test_requested_time_that_overflows_in_utc_is_refused_cleanly():
    record = {
        "flag": "stop",
        "requested_utc": "0001-01-01T00:00:00+01:00",
        "operator": {"user": "bob", "ssh_client": None},
        "reason": "",
        "nonce": "a" * 32,
        "source": "cli",
    }
    with pytest.raises(FlagError, match="requested_utc"):
        parse_flag("control_stop.flag", json.dumps(record).encode())
