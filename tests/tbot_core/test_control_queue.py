"""Control requests never overwrite each other: one file per request, handled oldest first, acknowledged one by one."""

from __future__ import annotations

import json
import multiprocessing
import subprocess
import sys
import threading

from tbot_core.audit import AuditLog
from tbot_core.control import ControlFlag, Operator, acknowledge, flag_path, pending, read_flags, write_flag
from tbot_core.paths import HomePaths
from tbot_core.timeutil import parse_iso_z

SYSTEM = Operator("system")
ALICE = Operator("alice", "203.0.113.9")


def flag_files(paths: HomePaths) -> list[str]:
    return sorted(p.name for p in paths.control_dir.glob("control_*.flag"))


def write_system_stop(paths: HomePaths) -> ControlFlag:
    return write_flag(paths, "stop", reason="logic_error: x", source="system", operator=SYSTEM)


def write_operator_stop(paths: HomePaths) -> ControlFlag:
    return write_flag(paths, "stop", reason="going home", source="cli", operator=ALICE)


def check_both_then_ack_one_by_one(paths: HomePaths, audit: AuditLog, round_no: int) -> None:
    """Both stops pending, oldest first; each acknowledgement removes exactly its own request."""
    assert len(flag_files(paths)) == 2, f"round {round_no}: {flag_files(paths)}"
    flags, bad = read_flags(paths, audit)
    assert bad == [] and sorted(f.source for f in flags) == ["cli", "system"], round_no
    first, second = flags
    assert parse_iso_z(first.requested_utc) <= parse_iso_z(second.requested_utc), round_no
    assert pending(paths) == [flag_path(paths, first).name, flag_path(paths, second).name]
    acknowledge(paths, audit, first, "done")
    assert flag_files(paths) == [flag_path(paths, second).name], round_no
    assert read_flags(paths, audit)[0] == [second]
    acknowledge(paths, audit, second, "done")
    assert flag_files(paths) == [], round_no


def test_system_and_operator_stop_written_by_two_threads_at_once_are_both_kept_and_handled_in_order(home_paths):
    rounds = 40
    gate = threading.Barrier(3)
    errors: list[BaseException] = []

    def writer(write) -> None:
        try:
            for _ in range(rounds):
                gate.wait(timeout=60)
                write(home_paths)
                gate.wait(timeout=60)
        except BaseException as exc:
            errors.append(exc)
            gate.abort()

    threads = [threading.Thread(target=writer, args=(w,)) for w in (write_system_stop, write_operator_stop)]
    for t in threads:
        t.start()
    with AuditLog(home_paths.audit_db) as audit:
        for round_no in range(rounds):
            gate.wait(timeout=60)  # both writers go
            gate.wait(timeout=60)  # both writers done
            check_both_then_ack_one_by_one(home_paths, audit, round_no)
    for t in threads:
        t.join(timeout=60)
    assert errors == []


def _process_writer(root: str, who: str, start, done, rounds: int) -> None:
    paths = HomePaths(root)
    write = write_system_stop if who == "system" else write_operator_stop
    for _ in range(rounds):
        start.wait(timeout=60)
        write(paths)
        done.wait(timeout=60)


def test_system_and_operator_stop_written_by_two_processes_at_once_are_both_kept_and_handled_in_order(home_paths):
    rounds = 20
    ctx = multiprocessing.get_context("spawn")
    start, done = ctx.Barrier(3), ctx.Barrier(3)
    procs = [
        ctx.Process(target=_process_writer, args=(str(home_paths.root), who, start, done, rounds))
        for who in ("system", "operator")
    ]
    for p in procs:
        p.start()
    try:
        with AuditLog(home_paths.audit_db) as audit:
            for round_no in range(rounds):
                start.wait(timeout=60)
                done.wait(timeout=60)
                check_both_then_ack_one_by_one(home_paths, audit, round_no)
    finally:
        for p in procs:
            p.join(timeout=60)
    assert [p.exitcode for p in procs] == [0, 0]


def test_requests_are_returned_in_the_order_they_were_written_not_by_name(home_paths):
    order = ["stop", "kill", "start", "stop", "defense_on", "reset"]
    written = [write_flag(home_paths, name, reason="drill") for name in order]
    flags, bad = read_flags(home_paths)
    assert bad == [] and flags == written
    assert pending(home_paths) == [flag_path(home_paths, f).name for f in written]


def _hand_record(flag: str, requested_utc: str, nonce: str, user: str = "bob") -> dict:
    return {
        "flag": flag,
        "requested_utc": requested_utc,
        "operator": {"user": user, "ssh_client": None},
        "reason": "by hand",
        "nonce": nonce,
        "source": "cli",
    }


def test_requests_with_the_same_requested_time_are_ordered_by_file_name_on_every_read(home_paths):
    when = "2026-03-02T15:00:00.000001Z"
    for flag, nonce in (("stop", "f" * 32), ("stop", "0" * 32), ("defense_on", "9" * 32)):
        path = home_paths.flag_request_file(flag, "20260302T150000000001Z", nonce)
        path.write_text(json.dumps(_hand_record(flag, when, nonce)))
    expected = [("defense_on", "9" * 32), ("stop", "0" * 32), ("stop", "f" * 32)]
    for _ in range(3):
        flags, bad = read_flags(home_paths)
        assert bad == [] and [(f.flag, f.nonce) for f in flags] == expected


def test_hand_written_legacy_stop_is_accepted_renamed_and_acknowledged_without_touching_others(home_paths):
    ours = write_operator_stop(home_paths)
    home_paths.flag_file("stop").write_text(json.dumps(_hand_record("stop", "2020-01-01T00:00:00Z", "a" * 32)))
    with AuditLog(home_paths.audit_db) as audit:
        flags, bad = read_flags(home_paths, audit)
        assert bad == [] and [f.nonce for f in flags] == ["a" * 32, ours.nonce], (
            "the older hand-written one comes first"
        )
        assert not home_paths.flag_file("stop").exists(), "renamed to its own request name"
        acknowledge(home_paths, audit, flags[0], "stopping")
        assert flag_files(home_paths) == [flag_path(home_paths, ours).name]


def test_free_text_legacy_reset_is_quarantined_not_acted_on(home_paths):
    home_paths.flag_file("reset").write_text("reset\n")
    with AuditLog(home_paths.audit_db) as audit:
        flags, bad = read_flags(home_paths, audit)
        assert flags == [] and bad[0].file == "control_reset.flag" and "JSON" in bad[0].problem
        assert audit.tail(1)[0].event == "flag_quarantined"
    assert flag_files(home_paths) == []


def test_legacy_copy_of_a_pending_request_is_quarantined_so_it_cannot_replay(home_paths):
    original = flag_path(home_paths, write_flag(home_paths, "reset", reason="reviewed"))
    home_paths.flag_file("reset").write_bytes(original.read_bytes())
    flags, bad = read_flags(home_paths)
    assert len(flags) == 1 and bad[0].file == "control_reset.flag" and "same request" in bad[0].problem


def test_request_copied_under_another_time_is_quarantined_as_a_repeated_nonce(home_paths):
    record = write_flag(home_paths, "start")
    data = json.loads(flag_path(home_paths, record).read_text())
    data["requested_utc"] = "2099-01-01T00:00:00.000000Z"
    home_paths.flag_request_file("start", "20990101T000000000000Z", record.nonce).write_text(json.dumps(data))
    flags, bad = read_flags(home_paths)
    assert flags == [record] and "nonce repeats" in bad[0].problem


def test_request_file_whose_name_disagrees_with_its_nonce_is_quarantined(home_paths):
    path = flag_path(home_paths, write_flag(home_paths, "stop"))
    path.rename(path.with_name(path.name.replace(path.name.split(".")[2], "b" * 32)))
    flags, bad = read_flags(home_paths)
    assert flags == [] and "does not match the record" in bad[0].problem


def test_temp_file_of_an_unfinished_write_is_ignored_and_left_alone(home_paths):
    temp = home_paths.control_dir / ".control_reset.20260101T000000000000Z.abc.flag.123.tmp"
    temp.write_text('{"flag": "reset", "rea')
    assert read_flags(home_paths) == ([], []) and pending(home_paths) == [] and temp.exists()


def test_a_process_stuck_holding_the_control_lock_does_not_stop_a_request_landing_or_being_read(home_paths):
    home_paths.control_lock.touch()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import fcntl, sys, time; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_EX); "
            "print('held', flush=True); time.sleep(600)",
            str(home_paths.control_lock),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "held"
        record = write_system_stop(home_paths)
        assert read_flags(home_paths)[0] == [record]
    finally:
        holder.kill()
        holder.wait(timeout=30)


def test_an_unopenable_control_lock_does_not_stop_requests(home_paths):
    home_paths.control_lock.mkdir()  # cannot be opened for writing: the lock is skipped, never the request
    record = write_operator_stop(home_paths)
    assert read_flags(home_paths) == ([record], [])
