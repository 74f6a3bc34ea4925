"""One vault writer at a time: an exclusive ``flock`` on ``vault/vault.lock``.

Rotation and recovery both take it, so recovery never sweeps away the staging
folder of a rotation that is still running in another process.  The kernel
drops the lock when its holder dies, even by SIGKILL.
"""

from __future__ import annotations

import fcntl
import os
import time
from pathlib import Path

from tbot_core.errors import LockedError
from tbot_core.paths import FILE_MODE

WAIT_SECONDS = 30.0
_POLL_SECONDS = 0.02


class VaultLock:
    def __init__(self, path: Path, *, wait_seconds: float = WAIT_SECONDS) -> None:
        self.path = path
        self.wait_seconds = wait_seconds
        self._fd: int | None = None

    def __enter__(self) -> VaultLock:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, FILE_MODE)
        deadline = time.monotonic() + self.wait_seconds
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    os.close(fd)
                    raise LockedError(
                        f"{self.path.name}: another process is changing the vault",
                        hint="wait for it to finish, then retry",
                    ) from None
                time.sleep(_POLL_SECONDS)
        self._fd = fd
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
