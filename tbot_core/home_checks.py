"""Self-checks of the bot home itself (layout, key, config, identity, control folder) and of its audit trail.

Two startup stages (``tbot_core/startup.py``): the home's checks come first,
the audit trail's after the ledger's.  Each fact has one check here, so the
pre-launch ``build_check`` reads these results instead of probing again.
"""

from __future__ import annotations

import apsw

from tbot_core.audit import SCHEMA_VERSION as AUDIT_SCHEMA_VERSION
from tbot_core.db import schema_version
from tbot_core.errors import TbotError
from tbot_core.fsutil import is_private
from tbot_core.home import BotHome
from tbot_core.selfcheck import CheckResult, FunctionCheck, SelfCheck


def home_checks(home: BotHome) -> list[SelfCheck]:
    paths = home.paths

    def layout() -> CheckResult:
        missing = [p for p in paths.folders() if not p.is_dir()]
        if missing:
            return CheckResult.failed(
                "home_layout",
                f"folder {missing[0].relative_to(paths.root.parent)} missing",
                "run `tbot init --force` or recreate the folder",
            )
        return CheckResult.passed("home_layout", f"{len(paths.folders())} folders present")

    def key() -> CheckResult:
        home.require_exists()
        home.vault.key_bytes()
        key_path = home.vault.current_dir() / paths.KEY_REL
        if not is_private(key_path):
            return CheckResult.failed(
                "vault_key",
                f"{home.vault.rel(key_path)}: readable by group or others",
                f"chmod 600 {home.vault.rel(key_path)}",
            )
        return CheckResult.passed("vault_key", f"generation {home.vault.current_generation()} key valid, mode 0600")

    def config() -> CheckResult:
        settings = home.settings
        return CheckResult.passed(
            "config",
            f"{len(settings.to_env())} keys valid; BROKER={settings.broker}, ENVIRONMENT={settings.environment}",
        )

    def identity() -> CheckResult:
        ident = home.identity
        return CheckResult.passed("identity", f"{ident.BOT_IDENTITY} ({ident.JURISDICTION_CODE}, {ident.BROKER_CODE})")

    def control_folder() -> CheckResult:
        folder = paths.control_dir
        if not folder.is_dir():
            return CheckResult.failed("control_flags", "control/ missing", "run `tbot init --force`")
        probe = paths.control_probe
        try:
            probe.write_text("")
            probe.unlink()
        except OSError as exc:
            raise TbotError(f"control/: not writable ({exc.strerror})") from None
        return CheckResult.passed("control_flags", "control folder writable")

    return [
        FunctionCheck("home_layout", layout),
        FunctionCheck("vault_key", key),
        FunctionCheck("config", config),
        FunctionCheck("identity", identity),
        FunctionCheck("control_flags", control_folder),
    ]


AUDIT_OBJECTS = {("table", "audit_log"), ("trigger", "audit_log_no_update"), ("trigger", "audit_log_no_delete")}
AUDIT_REMEDY = "restore db/audit.db from a backup or rerun `tbot init --force`"


def audit_schema_problems(conn: apsw.Connection) -> list[str]:
    """What is missing from the audit database's schema, or its version if it is not this code's."""
    present = {(kind, name) for kind, name in conn.execute("SELECT type, name FROM sqlite_schema")}
    problems = [f"{kind} {name} missing" for kind, name in sorted(AUDIT_OBJECTS - present)]
    version = schema_version(conn)
    if version != AUDIT_SCHEMA_VERSION:
        problems.append(f"schema version {version}, expected {AUDIT_SCHEMA_VERSION}")
    return problems


def audit_checks(home: BotHome) -> list[SelfCheck]:
    """The audit trail: present, the schema this code writes, and its hash chain intact."""
    path = home.paths.audit_db

    def audit_log() -> CheckResult:
        if not path.exists():
            return CheckResult.failed("audit_log", "db/audit.db missing", "run `tbot init --force`")
        with home.audit(readonly=True) as audit:
            problems = audit_schema_problems(audit.conn)
            if problems:
                return CheckResult.failed("audit_log", f"db/audit.db: {'; '.join(problems)}", AUDIT_REMEDY)
            rows = audit.verify()
        return CheckResult.passed("audit_log", f"hash chain intact ({rows} rows)")

    return [FunctionCheck("audit_log", audit_log)]
