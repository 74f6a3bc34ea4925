"""What went wrong with a batch, as a category and a constraint name, sanitized.

The seed asks that constraint violations be reported by name and category
without leaking data, so raw SQLite messages are reduced to those two facts
(plus, for validation, the row that broke the rule, e.g. a fitid).
"""

from __future__ import annotations

import re

import apsw

from tbot_core.errors import IntegrityError, TbotError
from tbot_core.sanitize import scrub

_CONSTRAINT_RE = re.compile(r"(CHECK|UNIQUE|NOT NULL|FOREIGN KEY|PRIMARY KEY) constraint failed(?::\s*(.+))?", re.I)
_TRIGGER_RE = re.compile(r"\b([a-z][a-z0-9_]+): ")


class LedgerBatchError(IntegrityError):
    """A batch was refused and rolled back; nothing of it was written."""

    def __init__(self, message: str, *, category: str, constraint: str, hint: str | None = None) -> None:
        super().__init__(message, hint=hint)
        self.category = category
        self.constraint = constraint
        self.batch_id = ""


def validation(rule: str, detail: str) -> LedgerBatchError:
    return LedgerBatchError(f"ledger validation failed ({rule}): {detail}", category="validation", constraint=rule)


def _io_in_chain(exc: BaseException) -> bool:
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, (apsw.IOError, apsw.FullError, apsw.CorruptError, OSError)):
            return True
        seen = seen.__context__ or seen.__cause__
    return False


def classify(exc: BaseException) -> tuple[str, str, str]:
    """(category, constraint, one-line detail) of any exception raised inside a batch."""
    if isinstance(exc, LedgerBatchError):
        return exc.category, exc.constraint, str(exc)
    text = " ".join(str(exc).split())
    if isinstance(exc, apsw.ConstraintError):
        match = _CONSTRAINT_RE.search(text)
        if match:
            kind = match.group(1).lower().replace(" ", "_")
            name = (match.group(2) or kind).strip()
            return kind, name, f"{kind} constraint {name} refused the batch"
        trig = _TRIGGER_RE.search(text)
        name = trig.group(1) if trig else "constraint"
        return "trigger", name, f"trigger {name} refused the batch"
    if isinstance(exc, apsw.BusyError):
        return "busy", "database_locked", "the ledger database stayed locked past the busy timeout"
    if isinstance(exc, apsw.Error) and _io_in_chain(exc):
        return "io", type(exc).__name__, f"I/O failure while writing the batch ({type(exc).__name__})"
    if isinstance(exc, apsw.Error):
        return (
            "database",
            type(exc).__name__,
            f"database error while writing the batch ({type(exc).__name__}: {scrub(text)[:160]})",
        )
    if isinstance(exc, TbotError):
        return "validation", type(exc).__name__, text
    return "internal", type(exc).__name__, f"unexpected {type(exc).__name__} while building the batch"
