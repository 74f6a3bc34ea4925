"""At core start each enhancement and safety module leaves one `module_start` audit row (UTC, enabled, self-check).

And build_check runs only there: `tbot self-check` leaves it out, says so in one
line, and writes no module rows.
"""

from __future__ import annotations

from tbot_core.audit import AuditLog
from tbot_core.enhancements.registry import MODULES
from tbot_core.home import BotHome
from tbot_core.safety.checks import SAFETY_MODULES, safety_checks
from tbot_core.startup import BUILD_CHECK_NOTE, registered_modules, run_self_check, run_startup
from tests.conftest import run_tbot
from tests.tbot_core.runtime.core_harness import audit_events, make_home, start_core, stop_core, wait_for


def module_rows(paths) -> list:
    with AuditLog(paths.audit_db, readonly=True) as audit:
        return [r for r in audit.iter_rows() if (r.category, r.event) == ("startup", "module_start")]


def test_the_registered_modules_are_the_nine_enhancements_and_the_six_safety_modules(bot_home):
    registered = registered_modules()
    # build_check is the pipeline's last stage, after the other enhancements' checks.
    enhancements = [cls.name for cls in MODULES if cls.name != "build_check"] + ["build_check"]
    assert [n for n, kind in registered.items() if kind == "enhancement"] == enhancements
    assert [n for n, kind in registered.items() if kind == "safety"] == ["security_bot", *SAFETY_MODULES]
    assert [c.name for c in safety_checks(bot_home)] == list(SAFETY_MODULES)


def test_a_start_on_a_fresh_paper_home_audits_one_row_per_module_with_enabled_and_self_check(bot_home):
    results = run_startup(bot_home)
    assert all(r.ok for r in results), [r.one_line() for r in results if not r.ok]
    rows = module_rows(bot_home.paths)
    assert [r.context_dict()["module"] for r in rows] == list(registered_modules())
    by = {r.context_dict()["module"]: r.context_dict() for r in rows}
    for name, kind in registered_modules().items():
        row = by[name]
        assert (row["kind"], row["self_check"]) == (kind, "ok") and row["detail"]
        assert row["checked_utc"].endswith("Z")
    assert all(r.ts_utc.endswith("Z") and r.severity == "info" for r in rows)
    # Off by default on a paper home: the fundamentals guard (no key) and the IBKR-only imbalance scanner.
    assert {n for n, row in by.items() if row["enabled"] is False} == {
        "finnhub_fundamental_guard",
        "imbalance_scanner_ibkr",
    }
    assert by["kill_switch"]["enabled"] is True and by["build_check"]["enabled"] is True


def test_a_failed_self_check_is_recorded_as_failed_with_its_hint(home_paths):
    home_paths.plaintext_env.write_text("WATCHDOG_INTERVAL_SECONDS=60\nADX_FILTER_ENABLED=false\n")
    run_startup(BotHome(str(home_paths.root)))
    by = {r.context_dict()["module"]: r for r in module_rows(home_paths)}
    watchdog = by["watchdog_bot"].context_dict()
    assert watchdog["self_check"] == "failed" and "WATCHDOG_INTERVAL_SECONDS" in watchdog["detail"]
    assert by["watchdog_bot"].severity == "error"
    adx = by["adx_filter"].context_dict()
    assert (adx["enabled"], adx["self_check"]) == (False, "ok")


def test_modules_whose_checks_cannot_be_built_are_each_recorded_failed(home_paths):
    (home_paths.root / "vault" / "current" / "config" / ".env_bot.enc").unlink()
    results = run_startup(BotHome(str(home_paths.root)))
    assert not all(r.ok for r in results)
    rows = [r.context_dict() for r in module_rows(home_paths)]
    assert [r["module"] for r in rows] == list(registered_modules())
    unbuilt = [r for r in rows if r["enabled"] is None]
    assert {r["module"] for r in unbuilt} >= {"adx_filter", "kill_switch", "build_check"}
    assert all(r["self_check"] == "failed" and ".env_bot.enc" in r["detail"] for r in unbuilt)


def test_rows_that_cannot_be_written_block_launch(bot_home):
    closed = AuditLog(bot_home.paths.audit_db)
    closed.close()
    results = run_startup(bot_home, audit=closed)
    assert results[-1].module == "module_start_audit" and not results[-1].ok
    assert "audit" in results[-1].detail and results[-1].hint


def test_self_check_in_process_runs_every_stage_but_build_check_and_writes_no_rows(bot_home):
    names = [r.module for r in run_self_check(bot_home)]
    assert "build_check" not in names and "kill_switch" in names and "adx_filter" in names
    assert module_rows(bot_home.paths) == []


def test_tbot_self_check_never_runs_build_check_and_says_so_in_one_line(home_paths):
    with AuditLog(home_paths.audit_db, readonly=True) as audit:
        before = audit.count()
    result = run_tbot("self-check", home=home_paths.root)
    assert result.returncode == 0, result.stdout + result.stderr
    lines = result.stdout.splitlines()
    assert BUILD_CHECK_NOTE == "build_check: runs only at core start (seed: never via CLI)"
    assert [line for line in lines if "build_check" in line] == [BUILD_CHECK_NOTE]
    assert any(line.startswith("kill_switch ") for line in lines)
    with AuditLog(home_paths.audit_db, readonly=True) as audit:
        assert audit.count() == before  # a self-check is not a core start: no module_start rows


def test_a_real_core_start_writes_the_module_start_rows_before_it_launches(tmp_path):
    paths = make_home(tmp_path, {})
    proc = start_core(paths)
    try:
        wait_for(lambda: audit_events(paths, "core_started"), "core_started in the audit log")
    finally:
        assert stop_core(proc) == 0
    with AuditLog(paths.audit_db, readonly=True) as audit:
        rows = list(audit.iter_rows())
    events = [(r.event, r.context_dict().get("module")) for r in rows]
    starts = [m for e, m in events if e == "module_start"]
    assert starts == list(registered_modules())
    assert events.index(("core_started", None)) > max(i for i, (e, _) in enumerate(events) if e == "module_start")
