"""The supervisor's whole run in-process on a real home, through the kit's seams (a sim clock, and ``spawn`` handing
back threads that never start): what a part that cannot be built, a worker that never runs, a crash and the
core's entry point leave behind for the operator (exit code, audit rows, system log, ``state.json``, alerts).

Each test names what the core must do; ``run`` installs signal handlers, which ``restored_signals`` puts back.
"""

from __future__ import annotations

import csv
import json
import shutil
import signal
import time
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

from tbot_core.control import Operator, write_flag
from tbot_core.home import BotHome
from tbot_core.runtime.lock import holder
from tbot_core.runtime.supervisor import EXIT_BLOCKED, EXIT_GAVE_UP, EXIT_OK, Supervisor, run_core
from tbot_core.runtime.wiring import Fakes
from tbot_core.selfcheck import CheckResult
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.supervisor_mutant_kit import Kit


@contextmanager
def restored_signals() -> Iterator[None]:
    previous = signal.getsignal(signal.SIGTERM), signal.getsignal(signal.SIGINT)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous[0])
        signal.signal(signal.SIGINT, previous[1])


def unreachable_broker(_broker):
    raise RuntimeError("no route to the broker")


def test_a_part_that_cannot_be_built_blocks_launch_naming_it_beside_every_startup_check(tmp_path):
    kit = Kit(tmp_path, fakes=Fakes(broker=unreachable_broker))
    sup = kit.opened()
    assert sup._start() is False and sup.exit_code == EXIT_BLOCKED
    broker, *startup = sup.checks
    assert (broker.module, broker.ok, broker.detail) == ("broker", False, "RuntimeError: no route to the broker")
    assert broker.hint == "check BROKER=paper and its secret (`tbot secrets list`)"
    assert startup and all(r.ok for r in startup)  # the startup pipeline still ran and reported every stage
    (blocked,) = kit.rows("startup", "launch_blocked")
    assert blocked.context_dict()["module"] == "broker" and blocked.context_dict()["matrix_row"] == "schema_fail"
    assert kit.threads == [] and not sup._launched


def test_run_core_builds_the_core_with_the_fakes_it_is_given(tmp_path):
    paths = make_home(tmp_path, {}, bars=4, symbols=("SPY",))
    write_flag(paths, "stop", reason="in case the core launches", operator=Operator("ops", None))
    with restored_signals():
        assert run_core(BotHome(str(paths.root)), Fakes(broker=unreachable_broker)) == EXIT_BLOCKED
    assert json.loads(paths.state_file.read_text())["blocked_reason"].startswith("broker: RuntimeError")


def test_a_launch_blocked_by_a_failed_check_is_logged_under_startup_one_line_per_check(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup.checks = [CheckResult.failed("security_bot", "key swapped", "restore it")]
    sup._block_launch()
    (error,) = [r for r in kit.log_rows() if r["level"] == "error"]
    assert error["module"] == "startup"
    assert error["message"].endswith(" security_bot: FAIL: key swapped (hint: restore it)")


def test_a_worker_that_never_runs_is_restarted_once_then_ends_the_core_and_the_last_state_says_why(tmp_path):
    kit = Kit(tmp_path, {"STATE_WRITE_INTERVAL_MS": "60000"})  # only a forced write can publish the ending
    with restored_signals():
        assert kit.sup.run() == EXIT_GAVE_UP
    (restarted,) = kit.rows("supervisor", "worker_restarted")
    assert restarted.context_dict()["worker"] == "watchdog"
    (again,) = kit.rows("supervisor", "worker_failed_again")
    assert again.context_dict()["worker"] == "watchdog"
    (stopped,) = kit.rows("supervisor", "core_stopped")
    assert stopped.context_dict()["exit_code"] == EXIT_GAVE_UP and stopped.severity == "critical"
    state = json.loads(kit.paths.state_file.read_text())
    (row,) = [r for r in state["emergency_matrix"] if r["key"] == "logic_error"]
    assert row["state"] == "triggered" and row["cause"].startswith("watchdog failed again")
    (last,) = [r for r in kit.log_rows() if r["message"] == "core stopped"]
    assert last["module"] == "supervisor" and last["context"] == {"exit_code": EXIT_GAVE_UP}
    # each unconfigured channel is logged twice: by the startup self-check, and by the core's own notifier when
    # it sent the restart's alert
    unset = [r["message"] for r in kit.log_rows() if r["module"] == "notifier_bot"]
    assert unset.count("notifier_smtp: not configured") == unset.count("notifier_webhook: not configured") == 2


def test_while_the_core_runs_its_lock_names_the_bot_and_an_operator_kill_is_logged(tmp_path):
    seen: list[dict | None] = []

    def broker_seen_under_the_lock(broker):
        seen.append(holder(kit.paths.core_lock))
        return broker

    kit = Kit(tmp_path, fakes=Fakes(broker=broker_seen_under_the_lock))
    write_flag(kit.paths, "kill", reason="fat finger", operator=Operator("ops", None))
    write_flag(kit.paths, "stop", reason="end of test", operator=Operator("ops", None))
    with restored_signals():
        assert kit.sup.run() == EXIT_OK
    (lock,) = seen
    assert lock is not None and lock["identity"] == kit.sup.identity.BOT_IDENTITY
    halts = [r for r in kit.log_rows() if r["module"] == "kill_switch"]
    assert [r["message"] for r in halts] == ["HALT: operator kill by ops: fat finger"]


def test_a_new_supervisor_makes_the_identitys_output_log_and_backtest_folders(tmp_path):
    paths = make_home(tmp_path, {}, bars=4, symbols=("SPY",))
    home = BotHome(str(paths.root))
    identity = home.identity.BOT_IDENTITY
    shutil.rmtree(paths.output_dir(identity))
    Supervisor(home)
    assert paths.logs_dir(identity).is_dir() and paths.backtest_dir(identity).is_dir()


def test_a_csv_home_gets_its_system_log_as_csv(tmp_path):
    kit = Kit(tmp_path, {"LOG_FORMAT": "CSV"})
    sup = kit.open()
    sup.checks = [CheckResult.failed("ledger_schema", "bad table", "migrate")]
    sup._block_launch()
    path = kit.paths.system_log(sup.identity.BOT_IDENTITY, "CSV")
    header, *rows = list(csv.reader(path.read_text().splitlines()))
    assert path.name == "system.csv" and header == ["timestamp_utc", "level", "module", "message", "context"]
    assert ["error", "startup"] in [row[1:3] for row in rows]


def test_a_broker_that_answers_again_is_resumed_and_compared_with_the_books_before_the_next_bar(tmp_path):
    kit = Kit(tmp_path)
    sup = kit.open()
    sup._broker_down("no answer")
    assert sup.control.suspended and not sup.control.reconcile_due
    sup._broker_up("answers again")
    assert not sup.control.suspended and sup.control.reconcile_due
    assert sup.context.matrix.state("broker_down") == "cleared"
    (resumed,) = kit.rows("watchdog", "broker_resumed")
    assert resumed.context_dict()["cause"] == "answers again"


def test_a_crash_logs_the_whole_traceback_as_python_prints_it(tmp_path, capsys):
    kit = Kit(tmp_path)
    sup = kit.open()
    try:
        raise KeyError("no such position")
    except KeyError as exc:
        sup._crashed(kit.audit, exc)
        printed = "".join(traceback.format_exception(exc))
    (error,) = [r for r in kit.log_rows() if r["level"] == "error"]
    assert error["context"]["traceback"] == printed
    assert printed.startswith('Traceback (most recent call last):\n  File "')
    assert "core crashed: KeyError: 'no such position'" in capsys.readouterr().err


def test_state_json_is_rewritten_as_often_as_state_write_interval_ms_allows(tmp_path):
    kit = Kit(tmp_path)  # STATE_WRITE_INTERVAL_MS=20 (core_harness.FAST)
    sup = kit.open()
    sup.publish()
    first = json.loads(kit.paths.state_file.read_text())
    time.sleep(0.1)  # past the configured 20 ms, short of the 0.25 s a StateWriter waits by default
    sup.publish()
    assert json.loads(kit.paths.state_file.read_text())["written_utc"] != first["written_utc"]
