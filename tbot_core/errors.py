"""The error classes every part of the core raises.

Expected failures (bad input, missing files, wrong keys) are ``TbotError``
subclasses: the CLI prints their one-line message and exits non-zero, never a
traceback.  The four classification names come from the seed's error handler.

``code`` carries the remote side's own code when there is one (an HTTP status
such as ``"429"``, an IB error code such as ``"201"``) so the error handler's
``error_code`` column says what the broker said, not our class name.
"""

from __future__ import annotations


class TbotError(Exception):
    """An expected failure with a one-line, secret-free message."""

    exit_code = 2

    def __init__(self, message: str, *, hint: str | None = None, code: str | int | None = None) -> None:
        super().__init__(message)
        self.hint = hint
        self.code: str | None = str(code) if code is not None else None

    def one_line(self) -> str:
        text = " ".join(str(self).split())
        return f"{text} (hint: {self.hint})" if self.hint else text


class ConfigError(TbotError):
    """Bad or missing configuration; never retried."""


class NetworkError(TbotError):
    """A transient transport failure (429, 5xx, timeout); retried with backoff."""


class BrokerError(TbotError):
    """The broker refused or failed an operation."""


class LogicError(TbotError):
    """A bug or impossible state inside the program."""


class IntegrityError(TbotError):
    """Stored data failed a consistency check (audit chain, ledger, vault)."""


class SecurityError(TbotError):
    """A key, secret or permission problem; blocks launch."""


class LockedError(TbotError):
    """Another process holds a lock this operation needs."""
