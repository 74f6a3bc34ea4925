"""The safety modules' self-checks as ``safety_checks`` builds them, on a real home: its config, its core.db
(written through ``CoreStore``, broken through plain ``sqlite3``), its system log and its secret store.

Each test names what a check must report; none of them starts a thread or writes core.db.
"""

from __future__ import annotations

import csv
import json
import sqlite3

import pytest

from tbot_core.core_store import CoreStore, KillState
from tbot_core.errors import IntegrityError
from tbot_core.home import BotHome
from tbot_core.safety.checks import ARMED, safety_checks, stored_kill_state
from tbot_core.secrets.store import SecretStore

NAMES = ["kill_switch", "watchdog_bot", "risk_bot", "error_handler", "notifier_bot"]


def _checks(home: BotHome) -> dict:
    checks = safety_checks(home)
    assert [c.name for c in checks] == NAMES
    return {c.name: c for c in checks}


def _home(home_paths, env: str) -> BotHome:
    home_paths.plaintext_env.write_text(env)
    return BotHome(str(home_paths.root))


def test_a_home_whose_core_never_ran_is_armed_and_no_core_db_is_created(bot_home):
    assert stored_kill_state(bot_home) == ARMED == KillState("armed", None, None, None)
    result = _checks(bot_home)["kill_switch"].self_check()
    assert result.ok and result.module == "kill_switch"
    assert result.detail == f"state armed; limit {bot_home.settings.daily_loss_limit}"
    assert not bot_home.paths.core_db.exists()


def test_a_stored_halt_is_read_back_whole(bot_home):
    store = CoreStore(bot_home.paths.core_db)
    store.set_kill_state("triggered", "2026-01-05T15:00:00Z", "loss breached", "2026-01-05T14:59:00Z")
    store.close()
    assert stored_kill_state(bot_home) == KillState(
        "triggered", "2026-01-05T15:00:00Z", "loss breached", "2026-01-05T14:59:00Z"
    )
    detail = _checks(bot_home)["kill_switch"].self_check().detail
    assert detail.startswith("state triggered since 2026-01-05T15:00:00Z: loss breached; limit ")


def test_a_core_db_without_its_kill_switch_row_fails_the_check_closed(bot_home):
    CoreStore(bot_home.paths.core_db).close()
    with sqlite3.connect(bot_home.paths.core_db) as conn:
        conn.execute("DELETE FROM kill_switch")
    conn.close()
    result = _checks(bot_home)["kill_switch"].self_check()
    assert not result.ok and result.module == "kill_switch"
    assert result.detail == "core.db: kill switch state unreadable (IntegrityError)"
    assert result.hint == "restore db/core.db from a backup or move it aside"


def test_a_core_db_that_is_no_database_fails_the_check_closed(bot_home):
    bot_home.paths.core_db.parent.mkdir(parents=True, exist_ok=True)
    bot_home.paths.core_db.write_bytes(b"not a database " * 200)
    result = _checks(bot_home)["kill_switch"].self_check()
    assert not result.ok and result.detail == "core.db: kill switch state unreadable (NotADBError)"


def test_the_watchdog_check_judges_the_homes_own_intervals(home_paths):
    bad = _checks(_home(home_paths, "WATCHDOG_INTERVAL_SECONDS=60\nWATCHDOG_BROKER_TIMEOUT_SECONDS=15\n"))
    assert not bad["watchdog_bot"].self_check().ok
    good = _checks(_home(home_paths, "WATCHDOG_INTERVAL_SECONDS=2\n"))
    result = good["watchdog_bot"].self_check()
    assert result.ok and result.detail.startswith("probe every 2")


def test_the_risk_check_judges_the_homes_own_limits(home_paths):
    result = _checks(_home(home_paths, "MAX_OPEN_POSITIONS=7\n"))["risk_bot"].self_check()
    assert result.ok and "max positions 7" in result.detail


def test_the_error_handler_check_opens_the_identitys_unresolved_log(bot_home):
    result = _checks(bot_home)["error_handler"].self_check()
    log = bot_home.paths.unresolved_orders_log(bot_home.identity.BOT_IDENTITY)
    assert result.ok and result.module == "error_handler" and log.exists()
    assert result.detail == f"unresolved_orders.log writable ({bot_home.settings.log_format}); retry limit 3"


def test_the_notifier_check_reads_the_homes_secret_store(bot_home):
    SecretStore(bot_home).set("notifier_webhook", {"url": "https://hooks.example.invalid/x"})
    result = _checks(bot_home)["notifier_bot"].self_check()
    assert result.ok and result.detail == "channels: notifier_webhook"


def test_the_notifier_check_logs_a_missing_channel_to_the_identitys_system_log_in_its_format(home_paths):
    home = _home(home_paths, "LOG_FORMAT=JSON\n")
    result = _checks(home)["notifier_bot"].self_check()
    assert result.detail == "no channel configured (alerts only in the logs)"
    path = home.paths.system_log(home.identity.BOT_IDENTITY, "JSON")
    rows = [json.loads(line) for line in path.read_text().splitlines()]
    assert [r["message"] for r in rows if r["module"] == "notifier_bot"] == [
        "notifier_smtp: not configured",
        "notifier_webhook: not configured",
    ]


def test_the_notifier_check_says_disabled_when_alerts_are_switched_off(home_paths):
    result = _checks(_home(home_paths, "NOTIFY_ON_CRITICAL=false\n"))["notifier_bot"].self_check()
    assert result.ok and result.detail == "disabled by NOTIFY_ON_CRITICAL=false"


def test_building_the_checks_names_the_notifiers_identity(bot_home):
    notifier = _checks(bot_home)["notifier_bot"]
    assert notifier.bot_identity == bot_home.identity.BOT_IDENTITY and notifier.enabled is True


def test_a_missing_kill_switch_row_is_named_in_the_error(bot_home):
    CoreStore(bot_home.paths.core_db).close()
    with sqlite3.connect(bot_home.paths.core_db) as conn:
        conn.execute("DELETE FROM kill_switch")
    conn.close()
    with pytest.raises(IntegrityError) as raised:
        stored_kill_state(bot_home)
    assert str(raised.value) == "core.db: kill_switch row missing"


def test_reading_the_stored_state_never_writes_core_db(bot_home):
    CoreStore(bot_home.paths.core_db).close()
    conn = sqlite3.connect(bot_home.paths.core_db)
    assert conn.execute("PRAGMA journal_mode=DELETE").fetchone() == ("delete",)
    conn.close()
    assert stored_kill_state(bot_home) == ARMED
    conn = sqlite3.connect(bot_home.paths.core_db)
    assert conn.execute("PRAGMA journal_mode").fetchone() == ("delete",)  # a writable open would make it WAL
    conn.close()


def test_with_csv_logs_the_notifier_check_writes_the_identitys_csv_system_log(home_paths):
    home = _home(home_paths, "LOG_FORMAT=CSV\n")
    _checks(home)["notifier_bot"].self_check()
    path = home.paths.system_log(home.identity.BOT_IDENTITY, "CSV")
    with open(path, newline="") as handle:
        rows = list(csv.reader(handle))
    assert rows[0] == ["timestamp_utc", "level", "module", "message", "context"]
    assert [r[3] for r in rows[1:] if r[2] == "notifier_bot"] == [
        "notifier_smtp: not configured",
        "notifier_webhook: not configured",
    ]
