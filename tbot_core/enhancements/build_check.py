"""``build_check``: the pre-launch validator (keys, schemas, chart of accounts, folders).

Run only by the startup pipeline (registered as the ``build_check`` factory
right after ``home``), never from the CLI.  Any failure halts launch; the
result names the first problem, how many there are, and what to do.
"""

from __future__ import annotations

from collections.abc import Callable

from tbot_core.audit import SCHEMA_VERSION as AUDIT_SCHEMA_VERSION
from tbot_core.db import connect
from tbot_core.enhancements.base import Enhancement
from tbot_core.selfcheck import CheckResult

AUDIT_OBJECTS = {("table", "audit_log"), ("trigger", "audit_log_no_update"), ("trigger", "audit_log_no_delete")}


class BuildCheck(Enhancement):
    name = "build_check"
    fatal = True
    is_filter = False

    def check_ready(self) -> CheckResult:
        problems: list[tuple[str, str]] = []
        for part in (self._keys, self._layout, self._audit_schema, self._ledger):
            problems.extend(part())
        if problems:
            detail, hint = problems[0]
            more = f" (+{len(problems) - 1} more)" if len(problems) > 1 else ""
            return CheckResult.failed(self.name, detail + more, hint)
        return CheckResult.passed(self.name, "keys, folders, audit and ledger schemas, chart of accounts all valid")

    def _keys(self) -> list[tuple[str, str]]:
        s, ident = self.settings, self.env.identity
        out = []
        if s.enable_bsm_filter and ident.JURISDICTION_CODE not in s.bsm_risk_free_rates:
            out.append(
                (
                    f"BSM_RISK_FREE_RATES has no rate for JURISDICTION_CODE {ident.JURISDICTION_CODE}",
                    f"tbot config set BSM_RISK_FREE_RATES ...,{ident.JURISDICTION_CODE}:RATE",
                )
            )
        return out

    def _layout(self) -> list[tuple[str, str]]:
        paths = self.env.paths
        folders = [*paths.folders(), paths.logs_dir(self.env.identity.BOT_IDENTITY)]
        return [
            (f"folder {f.relative_to(paths.root)}/ missing", "run `tbot init --force` or recreate it")
            for f in folders
            if not f.is_dir()
        ]

    def _audit_schema(self) -> list[tuple[str, str]]:
        path = self.env.paths.audit_db
        if not path.exists():
            return [("db/audit.db missing", "run `tbot init --force`")]
        return _with_db(path, lambda conn: _audit_problems(conn), "db/audit.db")

    def _ledger(self) -> list[tuple[str, str]]:
        path = self.env.paths.ledger_db
        if not path.exists():
            return [
                (
                    "db/ledger.db missing: no ledger schema or chart of accounts",
                    "run `tbot init --force` to create the ledger",
                )
            ]
        try:
            from tbot_core.ledger.coa import coa_problems
            from tbot_core.ledger.schema import schema_problems
        except ImportError as exc:
            return [(f"ledger schema module unavailable ({exc.name})", "reinstall TradeBot")]
        return _with_db(path, lambda conn: [*schema_problems(conn), *coa_problems(conn)], "db/ledger.db")


def _audit_problems(conn) -> list[str]:  # type: ignore[no-untyped-def]
    present = {(kind, name) for kind, name in conn.execute("SELECT type, name FROM sqlite_schema")}
    problems = [f"{kind} {name} missing" for kind, name in sorted(AUDIT_OBJECTS - present)]
    version = int(conn.execute("PRAGMA user_version").fetchone()[0])
    if version != AUDIT_SCHEMA_VERSION:
        problems.append(f"schema version {version}, expected {AUDIT_SCHEMA_VERSION}")
    return problems


def _with_db(path, probe: Callable, label: str) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    import apsw

    try:
        conn = connect(path, readonly=True)
        try:
            found = probe(conn)
        finally:
            conn.close()
    except apsw.Error as exc:
        return [(f"{label}: cannot read ({type(exc).__name__})", "restore the database from a backup")]
    return [(f"{label}: {p}", "restore the database from a backup or rerun `tbot init --force`") for p in found]
