"""Keep secrets out of every message, log line, audit row and state file.

Two defences: field names that look secret are redacted wherever a mapping is
written, and every secret value the process has loaded is registered here so
any text that would contain it is scrubbed before it leaves the process.
"""

from __future__ import annotations

import math
import re
import threading
from collections.abc import Mapping
from functools import lru_cache
from typing import Any

REDACTED = "***"
_SECRET_NAME = re.compile(
    r"(pass(word|wd|phrase)?|secret|token|api[_-]?key|auth|credential|private|fernet|^key$|_key$)", re.I
)
_MIN_SCRUB_LEN = 4

_lock = threading.Lock()
_known: tuple[str, ...] = ()  # longest first; replaced whole so readers need no lock


@lru_cache(maxsize=4096)
def looks_secret(name: str) -> bool:
    return bool(_SECRET_NAME.search(name))


def register_secret(value: object) -> None:
    """Remember a secret value so :func:`scrub` removes it from any text."""
    global _known
    text = str(value)
    if len(text) >= _MIN_SCRUB_LEN:
        with _lock:
            if text not in _known:
                _known = tuple(sorted({*_known, text}, key=len, reverse=True))


def scrub(text: str) -> str:
    for value in _known:
        if value in text:
            text = text.replace(value, REDACTED)
    return text


def _is_clean_flat(mapping: dict[Any, Any]) -> bool:
    """True for the common audit context: str keys, scalar values, nothing to redact."""
    for key, item in mapping.items():
        if type(key) is not str or looks_secret(key):
            return False
        kind = type(item)
        if kind is str:
            if _known and any(value in item for value in _known):
                return False
        elif kind is float:
            if not math.isfinite(item):
                return False
        elif kind not in _SCALARS:
            return False
    return True


_SCALARS = (bool, int, type(None))


def sanitize(value: Any, *, _depth: int = 0) -> Any:
    """A JSON-safe copy of ``value`` with secret-looking fields and known secrets removed."""
    kind = type(value)
    if kind is str:
        return scrub(value) if _known else value
    if kind in _SCALARS:
        return value
    if kind is float:
        return value if math.isfinite(value) else str(value)
    if _depth > 8:
        return "<nested too deep>"
    if kind is dict and _is_clean_flat(value):
        return value
    if isinstance(value, Mapping):
        clean = {}
        for key, item in value.items():
            name = key if type(key) is str else str(key)
            clean[name] = REDACTED if looks_secret(name) else sanitize(item, _depth=_depth + 1)
        return clean
    if isinstance(value, (list, tuple, set, frozenset)):
        return [sanitize(item, _depth=_depth + 1) for item in value]
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
