"""Encrypted backups of whole generations, taken before every switch.

A backup is the old generation folder (its key included) as one tar archive,
encrypted with the key of the generation that replaces it.  So no old key is
ever left readable on disk, a backup costs one file and one fsync however many
secrets there are, and a backup opens with the key of the generation after it
(which is itself inside the next backup, so the chain unwinds from current).
"""

from __future__ import annotations

import io
import re
import tarfile
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken

from tbot_core.errors import SecurityError
from tbot_core.fsutil import atomic_write_bytes
from tbot_core.paths import HomePaths
from tbot_core.timeutil import stamp

_BACKUP_NAME = re.compile(r"^vault-gen-(\d{6})-\w+\.tar\.enc$")


def pack_generation(gen_dir: Path) -> bytes:
    """Every regular file of a generation folder as an uncompressed tar (ciphertexts do not compress)."""
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w") as tar:
        for path in sorted(p for p in gen_dir.rglob("*") if p.is_file()):
            data = path.read_bytes()
            info = tarfile.TarInfo(str(path.relative_to(gen_dir)))
            info.size = len(data)
            info.mode = 0o600
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def write_backup(paths: HomePaths, generation: int, gen_dir: Path, next_fernet: Fernet) -> Path:
    """Keep generation ``generation`` as ``backups/vault-gen-NNNNNN-STAMP.tar.enc`` (durable)."""
    target = paths.vault_backup(generation, stamp())
    paths.backups_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_bytes(target, next_fernet.encrypt(pack_generation(gen_dir)))
    return target


def backup_generation(path: Path) -> int:
    match = _BACKUP_NAME.match(path.name)
    if not match:
        raise SecurityError(f"backups/{path.name}: not a vault backup name (expected vault-gen-NNNNNN-STAMP.tar.enc)")
    return int(match.group(1))


def open_backup(path: Path, next_fernet: Fernet) -> dict[Path, bytes]:
    """The files of a backed-up generation (relative path -> bytes, still encrypted with its own key)."""
    try:
        raw = next_fernet.decrypt(path.read_bytes())
    except FileNotFoundError:
        raise SecurityError(f"backups/{path.name}: missing") from None
    except InvalidToken:
        raise SecurityError(
            f"backups/{path.name}: does not decrypt with the key of the next generation (tampered or wrong key)"
        ) from None
    files: dict[Path, bytes] = {}
    with tarfile.open(fileobj=io.BytesIO(raw), mode="r") as tar:
        for member in tar.getmembers():
            rel = Path(member.name)
            if not member.isfile() or rel.is_absolute() or ".." in rel.parts:
                raise SecurityError(f"backups/{path.name}: unexpected entry in archive")
            handle = tar.extractfile(member)
            files[rel] = handle.read() if handle else b""
    return files
