"""Durable file writes: write a temp file, fsync, rename, fsync the folder.

A reader sees the old file or the new one, never half of either, even if the
process is killed mid-write.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

from tbot_core.paths import FILE_MODE, temp_sibling


def fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY | os.O_DIRECTORY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_bytes_durable(path: Path, data: bytes, *, mode: int = FILE_MODE) -> None:
    """Write ``data`` to a fresh file at ``path`` and fsync it (no rename)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    try:
        view = memoryview(data)
        while view:
            written = os.write(fd, view)
            view = view[written:]
        os.fsync(fd)
    finally:
        os.close(fd)
    os.chmod(path, mode)


def atomic_write_bytes(path: Path, data: bytes, *, mode: int = FILE_MODE, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` in one rename."""
    tmp = temp_sibling(path, uuid.uuid4().hex[:12])
    try:
        if durable:
            write_bytes_durable(tmp, data, mode=mode)
        else:
            fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
            with os.fdopen(fd, "wb") as handle:
                handle.write(data)
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, *, mode: int = FILE_MODE, durable: bool = True) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), mode=mode, durable=durable)


def is_private(path: Path) -> bool:
    """True when neither group nor others can read, write or enter ``path``."""
    return (path.stat().st_mode & 0o077) == 0
