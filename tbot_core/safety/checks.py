"""The core's safety modules as self-checks, built from a ``BotHome`` alone.

``tbot_core/startup.py`` runs this factory, so ``tbot self-check`` and the
supervisor's startup pipeline judge the same things.  Building the checks is
cheap and has no side effects: no broker client, no thread, no database
write.  The kill switch reads ``core.db`` read-only (a home whose core never
ran has no ``core.db`` yet and is armed); if the stored state cannot be read
the check fails (fail closed), since the supervisor could not know whether
it must start halted.
"""

from __future__ import annotations

from typing import Any

import apsw

from tbot_core.core_store import KillState
from tbot_core.db import connect
from tbot_core.errors import IntegrityError
from tbot_core.home import BotHome
from tbot_core.safety.error_handler import unresolved_log_result
from tbot_core.safety.kill_switch import KillSwitch, kill_switch_result
from tbot_core.safety.notifier_bot import Notifier, secret_store_loader
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.safety.watchdog_bot import Watchdog
from tbot_core.selfcheck import CheckResult, FunctionCheck, SelfCheck
from tbot_core.syslog import SystemLog

ARMED = KillState("armed", None, None, None)
# The names safety_checks() builds, in its order: the startup pipeline audits one module_start row for each,
# even when the checks cannot be built (then each is recorded as failed).
SAFETY_MODULES: tuple[str, ...] = (KillSwitch.name, Watchdog.name, RiskBot.name, "error_handler", Notifier.name)


def safety_checks(home: BotHome) -> list[SelfCheck]:
    """kill_switch, watchdog_bot, risk_bot, error_handler and notifier_bot, ready for ``run_checks``."""
    settings, paths, identity = home.settings, home.paths, home.identity

    def kill_switch() -> CheckResult:
        try:
            state = stored_kill_state(home)
        except (apsw.Error, IntegrityError) as exc:
            return CheckResult.failed(
                KillSwitch.name,
                f"core.db: kill switch state unreadable ({type(exc).__name__})",
                "restore db/core.db from a backup or move it aside",
            )
        return kill_switch_result(state, settings)

    def idle(*_args: Any) -> None:
        return None

    log = SystemLog(paths.system_log(identity.BOT_IDENTITY, settings.log_format), settings.log_format)
    return [
        FunctionCheck(KillSwitch.name, kill_switch),
        Watchdog(settings, broker=idle, feed=idle, on_broker_down=idle, on_broker_up=idle, on_feed_down=idle),
        RiskBot(settings),
        FunctionCheck(
            "error_handler", lambda: unresolved_log_result(paths.unresolved_orders_log(identity.BOT_IDENTITY), settings)
        ),
        Notifier(
            secret_store_loader(home), log, bot_identity=identity.BOT_IDENTITY, enabled=settings.notify_on_critical
        ),
    ]


def stored_kill_state(home: BotHome) -> KillState:
    """The kill switch state in ``core.db``, read-only; armed when the core never ran."""
    path = home.paths.core_db
    if not path.exists():
        return ARMED
    conn = connect(path, readonly=True)
    try:
        row = conn.execute("SELECT state, since_utc, cause, bar_utc FROM kill_switch WHERE id = 1").fetchone()
    finally:
        conn.close()
    if row is None:
        raise IntegrityError("core.db: kill_switch row missing")
    return KillState(*row)
