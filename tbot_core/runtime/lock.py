"""One core per bot identity: an exclusive ``flock`` on ``run/core.lock``.

The kernel drops the lock when the holder dies (even by SIGKILL), so a stale
lock file never blocks a restart.  The file's content names the holder so a
second start can say who it is.
"""

from __future__ import annotations

import fcntl
import json
import os
from pathlib import Path
from typing import Any

from tbot_core.errors import LockedError
from tbot_core.timeutil import iso_z


class CoreLock:
    def __init__(self, path: Path, identity: str) -> None:
        self.path = path
        self.identity = identity
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise LockedError(
                f"core for {self.identity} already running: {describe_holder(self.path)}",
                hint="attach with `tbot tui`, or stop it with `tbot control stop`",
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, json.dumps({"pid": os.getpid(), "identity": self.identity, "since_utc": iso_z()}).encode())
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CoreLock:
        self.acquire()
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def holder(path: Path) -> dict[str, Any] | None:
    """The holder's record if some process holds the lock now, else None."""
    if not path.exists():
        return None
    fd = os.open(path, os.O_RDONLY)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            try:
                record: dict[str, Any] = json.loads(path.read_text() or "{}")
                return record
            except ValueError:
                return {"pid": None}
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


def describe_holder(path: Path) -> str:
    info = holder(path) or {}
    return f"pid {info.get('pid')} since {info.get('since_utc', '?')}"


def core_running(path: Path) -> bool:
    return holder(path) is not None
