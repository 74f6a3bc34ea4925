"""``build_check``: the pre-launch validator (keys, schemas, chart of accounts, folders).

The last stage of the startup pipeline (``tbot_core/startup.py``) before
launch.  There it is given the results of the stages before it and vouches
for the facts they established (folders, audit schema, ledger schema, chart of
accounts) by reading those results, so a start probes each fact once; it adds
what only it checks (config keys that must agree with the identity, the bot's
log folder).  Built alone (no earlier results), it probes everything itself.
Any failure halts launch; the result names the first problem, how many there
are, and what to do.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import apsw

from tbot_core import settings_keys
from tbot_core.db import connect
from tbot_core.enhancements.base import Enhancement, EnhancementEnv
from tbot_core.home_checks import audit_schema_problems
from tbot_core.selfcheck import CheckResult

# The results of earlier startup stages that build_check vouches for (module names).
VOUCHED = ("home_layout", "audit_log", "ledger_schema", "ledger_coa")


class BuildCheck(Enhancement):
    name = "build_check"
    keys = settings_keys.build_check.KEYS
    fatal_key = "build_check_fatal"  # fixed true: a failure blocks launch
    is_filter = False

    def __init__(self, env: EnhancementEnv, prior: Sequence[CheckResult] | None = None) -> None:
        super().__init__(env)
        self.prior = prior

    def check_ready(self) -> CheckResult:
        problems: list[tuple[str, str]] = [*self._keys(), *self._log_folder()]
        if self.prior is None:
            for part in (self._layout, self._audit_schema, self._ledger):
                problems.extend(part())
        else:
            problems.extend(self._vouched(self.prior))
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

    def _vouched(self, prior: Sequence[CheckResult]) -> list[tuple[str, str]]:
        found = {r.module: r for r in prior}
        out = []
        for name in VOUCHED:
            result = found.get(name)
            if result is None:
                out.append((f"{name} was not checked before build_check", "run the startup stages in their order"))
            elif not result.ok:
                out.append((f"{name}: {result.detail}", result.hint))
        return out

    def _log_folder(self) -> list[tuple[str, str]]:
        return self._missing([self.env.paths.logs_dir(self.env.identity.BOT_IDENTITY)])

    def _layout(self) -> list[tuple[str, str]]:
        return self._missing(self.env.paths.folders())

    def _missing(self, folders: Iterable[Path]) -> list[tuple[str, str]]:
        root = self.env.paths.root
        return [
            (f"folder {f.relative_to(root)}/ missing", "run `tbot init --force` or recreate it")
            for f in folders
            if not f.is_dir()
        ]

    def _audit_schema(self) -> list[tuple[str, str]]:
        path = self.env.paths.audit_db
        if not path.exists():
            return [("db/audit.db missing", "run `tbot init --force`")]
        return _with_db(path, audit_schema_problems, "db/audit.db")

    def _ledger(self) -> list[tuple[str, str]]:
        path = self.env.paths.ledger_db
        if not path.exists():
            return [
                (
                    "db/ledger.db missing: no ledger schema or chart of accounts",
                    "run `tbot init --force` to create the ledger",
                )
            ]
        from tbot_core.ledger.coa import coa_problems
        from tbot_core.ledger.schema import schema_problems

        return _with_db(path, lambda conn: [*schema_problems(conn), *coa_problems(conn)], "db/ledger.db")


def _with_db(path: Path, probe: Callable[[apsw.Connection], list[str]], label: str) -> list[tuple[str, str]]:
    try:
        conn = connect(path, readonly=True)
        try:
            found = probe(conn)
        finally:
            conn.close()
    except apsw.Error as exc:
        return [(f"{label}: cannot read ({type(exc).__name__})", "restore the database from a backup")]
    return [(f"{label}: {p}", "restore the database from a backup or rerun `tbot init --force`") for p in found]
