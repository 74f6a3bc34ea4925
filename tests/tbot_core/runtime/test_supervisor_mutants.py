"""The supervisor in-process on a real home: its parts built by the core's own wiring (paper broker, core.db,
audit log, kill switch, watchdog), control flags written and read through the real control folder, and
``state.json``.  Two seams from its constructor: a sim clock, and ``spawn``, which here records the engine and
watchdog threads instead of starting them (so a test sees exactly what a flag started).  Alerts go to
``RecordingNotifier`` (tests/fakes), and ``run`` is driven to its end by a stop flag written before it starts.

Each test names what the supervisor must do with a restart, a failed start, a run or a crash.
"""

from __future__ import annotations

import json
import os
import signal
import sys
from decimal import Decimal

import apsw
import pytest

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.control import Operator, write_flag
from tbot_core.errors import ConfigError
from tbot_core.home import BotHome
from tbot_core.runtime import supervisor as supervisor_module
from tbot_core.runtime.reconcile import Mismatch
from tbot_core.runtime.supervisor import (
    EXIT_BLOCKED,
    EXIT_CRASHED,
    EXIT_GAVE_UP,
    EXIT_OK,
    Supervisor,
    blocked_before_launch,
    run_core,
)
from tbot_core.runtime.wiring import Fakes
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.selfcheck import CheckResult
from tests.fakes.faults import RecordingNotifier
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.supervisor_mutant_kit import Kit

# -- restart --------------------------------------------------------------------------------------------------------


def test_a_scheduled_restart_starts_the_engine_once_its_time_has_come(tmp_path):
    kit = Kit(tmp_path, {"RESTART_BACKOFF_SECONDS": "2"})
    sup = kit.open()
    sup.controlled_stop("feed_down", "no bar")
    kit.clock.now += 1.9
    sup._watch_engine()
    assert kit.threads == []
    kit.clock.now += 0.1
    sup._watch_engine()
    assert kit.names() == ["engine"] and sup._restart_at is None
    (restarted,) = kit.rows("supervisor", "engine_restarted")
    assert restarted.context_dict() == {"matrix_row": "feed_down", "attempt": 1} and restarted.severity == "warning"
    row = next(r for r in sup.context.matrix.rows() if r.key == "feed_down")
    assert row.state == "cleared" and row.cause == "engine restarted (attempt 1)"
    sup._watch_engine()
    assert kit.names() == ["engine"]


def test_the_feed_heartbeat_is_rearmed_when_the_engine_restarts(tmp_path):
    kit = Kit(tmp_path, {"RESTART_BACKOFF_SECONDS": "2"})
    sup = kit.open()
    assert sup.watchdog is not None
    sup.controlled_stop("feed_down", "no bar")
    before = sup.watchdog.feed_beat
    kit.clock.now += 5
    sup._watch_engine()
    assert sup.watchdog.feed_beat is not before and sup.watchdog.feed_beat.last_ok == kit.clock.now


# -- launch ---------------------------------------------------------------------------------------------------------


def test_launch_starts_the_watchdog_then_the_engine_and_audits_the_start(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.checks = [CheckResult.passed("a", "ok"), CheckResult.passed("b", "ok")]
    sup.launch()
    assert kit.names() == ["watchdog", "engine"] and sup._launched
    (started,) = kit.rows("supervisor", "core_started")
    assert started.context_dict() == {"pid": os.getpid(), "checks": 2}
    assert not sup.control.defense
    (line,) = [r for r in kit.log_rows() if r["message"] == "core started"]
    assert line["module"] == "supervisor" and line["context"] == {"pid": os.getpid()}


def test_after_launch_a_broker_mismatch_is_alerted_through_the_cores_notifier(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.launch()
    found = Mismatch("position", "SPY", Decimal(5), Decimal(0), "broker holds 5, books 0")
    assert sup.control.mismatch.report([found], "engine start", kit.audit)
    ((event, cause, _),) = kit.sent
    assert event == "broker_mismatch" and cause.startswith("engine start: SPY position: broker holds 5, books 0")


def test_a_config_with_defense_mode_active_launches_in_defense(tmp_path):
    kit = Kit(tmp_path, {"DEFENSE_MODE_ACTIVE": "true"})
    sup = kit.open()
    sup.launch()
    assert sup.control.defense
    (on,) = kit.rows("risk", "defense_mode_on")
    assert on.context_dict()["cause"] == "DEFENSE_MODE_ACTIVE=true in the config"


def test_a_failed_check_blocks_launch_with_the_matrix_row_an_audit_row_and_an_alert(tmp_path, capsys):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.checks = [
        CheckResult.passed("risk_bot", "ok"),
        CheckResult.failed("security_bot", "key swapped", "restore it"),
        CheckResult.failed("ledger_schema", "bad table", "migrate"),
    ]
    assert sup._block_launch() == EXIT_BLOCKED == sup.exit_code
    assert sup.context.matrix.state("decrypt_fail") == "triggered"
    assert sup.context.matrix.state("schema_fail") == "triggered"
    blocked = kit.rows("startup", "launch_blocked")
    assert [(r.context_dict()["module"], r.context_dict()["matrix_row"]) for r in blocked] == [
        ("security_bot", "decrypt_fail"),
        ("ledger_schema", "schema_fail"),
    ]
    assert all(r.severity == "critical" for r in blocked)
    assert sup.blocked_reason == "security_bot: key swapped; ledger_schema: bad table"
    ((event, cause, _),) = kit.sent
    assert event == "launch_blocked" and cause == "; ".join(r.one_line() for r in sup.checks[1:])
    out = capsys.readouterr().out
    assert [line.split(" ", 3)[3] for line in out.splitlines()] == [
        "security_bot: FAIL: key swapped (hint: restore it)",
        "ledger_schema: FAIL: bad table (hint: migrate)",
    ]
    assert all(line.startswith("launch blocked: ") for line in out.splitlines())
    state = json.loads(kit.paths.state_file.read_text())
    assert state["mode"] == "blocked"


def test_a_blocked_reason_is_cut_to_500_characters(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.checks = [CheckResult.failed("ledger_schema", "x" * 900, "")]
    sup._block_launch()
    assert len(sup.blocked_reason) == 500
    assert len(kit.sent[0][1]) == 300


def test_an_unreadable_core_db_blocks_launch_before_any_part_is_built(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.sup
    kit.paths.core_db.parent.mkdir(parents=True, exist_ok=True)
    kit.paths.core_db.write_bytes(b"garbage " * 500)
    sup.ctx = CoreContext(kit.paths, sup.settings, sup.identity, sup.log, AuditLog(kit.paths.audit_db), Matrix())
    sup.notifier = RecordingNotifier(  # type: ignore[assignment]
        Notifier(lambda n: None, sup.log, bot_identity="T"), sent=kit.sent, raises=lambda e: False
    )
    assert sup._start() is False and sup.exit_code == EXIT_BLOCKED
    (check,) = sup.checks
    assert check.module == "core_store" and not check.ok
    assert check.hint == "restore db/core.db from a backup or move it aside"
    assert sup.watchdog is None and kit.threads == []


# -- run ------------------------------------------------------------------------------------------------------------


def test_run_starts_and_on_a_stop_flag_stops_the_core_cleanly(tmp_path):
    kit = Kit(tmp_path)
    write_flag(kit.paths, "stop", reason="end of test", operator=Operator("ops", None))
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert kit.sup.run() == EXIT_OK
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    events = [r.event for r in kit.rows("supervisor")]
    assert events[0] == "core_starting" and "core_started" in events and events[-1] == "core_stopped"
    (starting,) = kit.rows("supervisor", "core_starting")
    assert starting.context_dict()["pid"] == os.getpid() and "version" in starting.context_dict()
    (stopped,) = kit.rows("supervisor", "core_stopped")
    assert stopped.context_dict() == {"pid": os.getpid(), "exit_code": 0} and stopped.severity == "info"
    assert kit.sup.store is not None
    with pytest.raises(apsw.ConnectionClosedError):
        kit.sup.store.query("SELECT 1")  # run closed it
    assert json.loads(kit.paths.state_file.read_text())["mode"] != "blocked"
    log = kit.paths.system_log(kit.sup.identity.BOT_IDENTITY, kit.sup.settings.log_format).read_text()
    assert "core stopped" in log


def test_run_installs_handlers_that_turn_sigterm_and_sigint_into_an_orderly_stop(tmp_path):
    kit = Kit(tmp_path)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        kit.sup._install_signals()
        handler = signal.getsignal(signal.SIGTERM)
        assert callable(handler)
        handler(signal.SIGTERM, None)
        assert kit.sup.stop_requested.is_set() and kit.sup._stop_cause == "signal SIGTERM"
        interrupt = signal.getsignal(signal.SIGINT)
        assert callable(interrupt)
        interrupt(signal.SIGINT, None)
        assert kit.sup._stop_cause == "signal SIGINT"
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def test_a_blocked_run_exits_blocked_and_audits_a_critical_stop(tmp_path):
    kit = Kit(tmp_path)
    kit.paths.core_db.parent.mkdir(parents=True, exist_ok=True)
    kit.paths.core_db.write_bytes(b"garbage " * 500)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert kit.sup.run() == EXIT_BLOCKED
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    (stopped,) = kit.rows("supervisor", "core_stopped")
    assert stopped.context_dict()["exit_code"] == EXIT_BLOCKED and stopped.severity == "critical"
    assert "core_started" not in [r.event for r in kit.rows("supervisor")]


class CrashingLoop(Supervisor):
    def _loop(self) -> None:
        raise RuntimeError("loop bug " + "z" * 5000)


def test_a_crash_in_the_loop_is_audited_logged_alerted_and_exits_crashed(tmp_path, capsys):
    paths = make_home(tmp_path, {}, bars=4, symbols=("SPY",))
    sent: list[tuple] = []
    fakes = Fakes(notifier=lambda inner: RecordingNotifier(inner, sent=sent, raises=lambda e: False))
    sup = CrashingLoop(BotHome(str(paths.root)), fakes)
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        assert sup.run() == EXIT_CRASHED
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])
    audit = AuditLog(paths.audit_db)
    rows = [r for r in audit.iter_rows() if r.category == "supervisor"]
    audit.close()
    (crash,) = [r for r in rows if r.event == "core_crashed"]
    detail = crash.context_dict()["error"]
    assert detail.startswith("RuntimeError: loop bug z") and len(detail) == len("RuntimeError: ") + 300
    assert crash.severity == "critical"
    assert ("core_crashed", detail, {"scope": "All"}) in sent
    assert f"core crashed: {detail} (traceback in the system log)" in capsys.readouterr().err
    log = paths.system_log(sup.identity.BOT_IDENTITY, sup.settings.log_format).read_text()
    (error,) = [row for row in map(json.loads, log.splitlines()) if row["level"] == "error"]
    assert error["module"] == "supervisor" and error["message"] == f"core crashed: {detail}"
    trace = error["context"]["traceback"]  # its last 4000 characters: where it failed and with what
    assert len(trace) == 4000 and trace.endswith("z" * 100 + "\n") and "RuntimeError: loop bug" not in trace


# -- before launch --------------------------------------------------------------------------------------------------


def test_a_config_that_cannot_be_read_blocks_before_launch_with_a_blocked_state(tmp_path, capsys):
    paths = make_home(tmp_path, {}, bars=4, symbols=("SPY",))
    home = BotHome(str(paths.root))
    code = blocked_before_launch(home, ConfigError("MAX_PE_RATIO: not a number", hint="fix .env_bot"))
    assert code == EXIT_BLOCKED
    audit = AuditLog(paths.audit_db)
    (row,) = [r for r in audit.iter_rows() if r.event == "launch_blocked"]
    audit.close()
    assert row.category == "startup" and row.severity == "critical"
    assert row.context_dict() == {
        "module": "security_bot",
        "detail": "MAX_PE_RATIO: not a number (hint: fix .env_bot)",
        "matrix_row": "decrypt_fail",
    }
    state = json.loads(paths.state_file.read_text())
    assert state["mode"] == "blocked"
    assert state["blocked_reason"] == "security_bot: MAX_PE_RATIO: not a number (hint: fix .env_bot)"
    assert "launch blocked: MAX_PE_RATIO: not a number" in capsys.readouterr().out


def test_a_broken_plaintext_config_makes_run_core_block_before_launch(tmp_path):
    paths = make_home(tmp_path, {}, bars=4, symbols=("SPY",))
    paths.plaintext_env.write_text("MAX_PE_RATIO=not-a-number\n")
    assert run_core(BotHome(str(paths.root))) == EXIT_BLOCKED
    assert json.loads(paths.state_file.read_text())["mode"] == "blocked"
    assert not paths.core_db.exists()


def test_the_exit_codes_are_stable():
    assert (EXIT_OK, EXIT_BLOCKED, EXIT_GAVE_UP, supervisor_module.EXIT_UNRESPONSIVE, EXIT_CRASHED) == (0, 3, 4, 5, 6)
    assert supervisor_module.POLL_SECONDS == 0.05
    assert sys.modules["tbot_core.runtime.supervisor"] is supervisor_module


def test_a_blocked_launch_whose_audit_log_cannot_be_opened_still_publishes_the_blocked_state(tmp_path):
    paths = make_home(tmp_path, {}, bars=4, symbols=("SPY",))
    paths.audit_db.parent.mkdir(parents=True, exist_ok=True)
    paths.audit_db.write_bytes(b"not an audit log " * 300)
    code = blocked_before_launch(BotHome(str(paths.root)), ConfigError("unreadable identity"))
    assert code == EXIT_BLOCKED
    assert json.loads(paths.state_file.read_text())["blocked_reason"] == "security_bot: unreadable identity"
