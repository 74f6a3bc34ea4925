"""Keep secrets out of every message, log line, audit row and state file.

Two defences: field names that look secret are redacted wherever a mapping is
written, and every secret value the process has loaded is registered here so
any text that would contain it is scrubbed before it leaves the process.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Mapping
from typing import Any

REDACTED = "***"
_SECRET_NAME = re.compile(r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|auth|credential|private|fernet|^key$|_key$)", re.I)
_MIN_SCRUB_LEN = 4

_lock = threading.Lock()
_known: set[str] = set()


def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def register_secret(value: object) -> None:
    """Remember a secret value so :func:`scrub` removes it from any text."""
    text = str(value)
    if len(text) >= _MIN_SCRUB_LEN:
        with _lock:
            _known.add(text)


def scrub(text: str) -> str:
    if not _known:
        return text
    with _lock:
        values = sorted(_known, key=len, reverse=True)
    for value in values:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def sanitize(value: Any, *, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with secret-looking fields and known secrets removed."""
    if _depth > 8:
        return "<nested too deep>"
    if isinstance(value, Mapping):
        return {
            str(key): (REDACTED if looks_secret(str(key)) else sanitize(item, _depth=_depth + 1))
            for key, item in value.items()
        }
    if isinstance(value, (list, tuple, set, frozenset)):
        return [sanitize(item, _depth=_depth + 1) for item in value]
    if value is None or isinstance(value, (bool, int, float)):
        return value
    return scrub(str(value))


def shape(value: str) -> str:
    """Describe a value without revealing it: ``text of 12 chars``."""
    if value == "":
        return "empty text"
    kinds = []
    if any(ch.isdigit() for ch in value):
        kinds.append("digits")
    if any(ch.isalpha() for ch in value):
        kinds.append("letters")
    if any(not ch.isalnum() for ch in value):
        kinds.append("symbols")
    return f"text of {len(value)} chars ({'/'.join(kinds)})"
