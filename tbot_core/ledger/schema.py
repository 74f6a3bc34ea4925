"""Create the ledger schema and prove a database still carries all of it.

The expected objects are whatever ``schema.sql`` creates in a scratch
in-memory database, so the startup check can never drift from the file: a
missing trigger, a table whose constraints were changed, or an unexpected
extra trigger is reported by name.

``PRAGMA user_version`` says which ``schema.sql`` built a file.  Running the
current text over an older file would skip every changed table (its ``IF NOT
EXISTS`` sees the old one) and leave the file half old, half new, so an older
file is refused here and upgraded only by ``tbot ledger migrate``
(``tbot_core/ledger/migrate.py``).
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

import apsw

from tbot_core.db import schema_version
from tbot_core.errors import TbotError
from tbot_core.ledger.batch import Ledger
from tbot_core.ledger.coa import seed_default
from tbot_core.paths import package_resource

SCHEMA_VERSION = 3
MIGRATE_HINT = "run `tbot ledger migrate`"


@lru_cache(maxsize=1)
def schema_sql() -> str:
    return package_resource("ledger", "schema.sql").read_text(encoding="utf-8")


def version_problem(version: int) -> str | None:
    """Why this code must not use a file stamped ``version`` as it is; None when it may (0 is a new file)."""
    if version in (0, SCHEMA_VERSION):
        return None
    if 0 < version < SCHEMA_VERSION:
        return f"schema version {version} predates this code; {MIGRATE_HINT}"
    if version > SCHEMA_VERSION:
        return f"schema version {version} is newer than this code's ({SCHEMA_VERSION}); use the tbot that wrote it"
    return f"schema version {version} is not a ledger schema version"


def create_schema(path: Path) -> None:
    """Create (or complete) the schema and the default chart; safe to call on every start.

    Only a new file (version 0) or a current one is touched; see the module docstring.
    """
    with Ledger(path) as ledger:
        conn = ledger.conn
        try:
            with conn:
                problem = version_problem(schema_version(conn))
                if problem:
                    raise TbotError(f"{path.name}: {problem}")
                conn.execute(schema_sql())
                conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        except apsw.Error as exc:
            raise TbotError(f"{path.name}: cannot create the ledger schema ({type(exc).__name__}: {exc})") from None
        seed_default(ledger)


def _objects(conn: apsw.Connection) -> dict[tuple[str, str], str | None]:
    return {
        (kind, name): sql
        for kind, name, sql in conn.execute("SELECT type, name, sql FROM sqlite_schema WHERE name NOT LIKE 'sqlite_%'")
    }


@lru_cache(maxsize=1)
def expected_objects() -> dict[tuple[str, str], str | None]:
    scratch = apsw.Connection(":memory:")
    scratch.execute(schema_sql())
    objects = _objects(scratch)
    scratch.close()
    return objects


def schema_problems(conn: apsw.Connection) -> list[str]:
    """Differences from ``schema.sql``; an older or newer file is one line, not a list of every changed object."""
    version = schema_version(conn)
    problem = version_problem(version)
    if problem:
        return [problem]
    expected, actual = expected_objects(), _objects(conn)
    problems = [f"{kind} {name} missing" for (kind, name) in expected if (kind, name) not in actual]
    problems += [
        f"{kind} {name} differs from the shipped schema"
        for key, sql in expected.items()
        if key in actual and actual[key] != sql
        for kind, name in [key]
    ]
    problems += [f"unexpected {kind} {name}" for (kind, name) in actual if (kind, name) not in expected]
    if version != SCHEMA_VERSION:
        problems.append(f"schema version {version}, expected {SCHEMA_VERSION}")
    return problems
