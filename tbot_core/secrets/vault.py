"""The encrypted vault: one Fernet key and every artifact it protects, as a generation.

A generation is a folder ``vault/gen-NNNNNN`` holding its own key and every
encrypted artifact (config, identity, secrets).  ``vault/current`` is a
symlink to the generation in use, so switching key and ciphertexts together is
a single atomic rename of that link.  Key rotation (``rotation.py``) builds the
next generation beside the current one and switches the link.

Reads resolve the link once and take the key and the ciphertext from that same
generation folder, so a read racing a rotation sees one complete generation;
if the rotation removed the old folder mid-read, the read retries on the new
one.  Writes never edit a generation in place: they go through rotation.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet, InvalidToken

from tbot_core.errors import SecurityError
from tbot_core.fsutil import atomic_write_bytes, fsync_dir, write_bytes_durable
from tbot_core.paths import FILE_MODE, FOLDER_MODE, HomePaths
from tbot_core.secrets.crashpoints import crash_point
from tbot_core.timeutil import iso_z

_READ_ATTEMPTS = 3


def fingerprint(key: bytes) -> str:
    """A stable, non-reversible name for a key (never the key itself)."""
    return hashlib.sha256(b"tbot-key-fp:" + key.strip()).hexdigest()[:24]


class Vault:
    """Read encrypted artifacts of the current generation; change them through rotation."""

    def __init__(self, paths: HomePaths) -> None:
        self.paths = paths
        self._fernets: dict[int, Fernet] = {}

    # -- generations -------------------------------------------------------------
    def exists(self) -> bool:
        return self.paths.current_link.exists()

    def current_generation(self) -> int:
        link = self.paths.current_link
        if not link.is_symlink():
            raise SecurityError(
                f"{self.rel(link)}: missing; the home has no current key generation",
                hint="run `tbot init` (or restore vault/ from backups/)",
            )
        target = os.readlink(link)
        try:
            return int(Path(target).name.removeprefix("gen-"))
        except ValueError:
            raise SecurityError(f"{self.rel(link)}: points at {Path(target).name!r}, expected gen-NNNNNN") from None

    def current_dir(self) -> Path:
        return self.paths.generation_dir(self.current_generation())

    def rel(self, path: Path) -> str:
        """A path relative to the home, for messages (never absolute home names in audit rows)."""
        try:
            return str(path.relative_to(self.paths.root))
        except ValueError:
            return path.name

    # -- key -------------------------------------------------------------------------
    def key_bytes(self, generation_dir: Path | None = None) -> bytes:
        key_path = (generation_dir or self.current_dir()) / HomePaths.KEY_REL
        try:
            key = key_path.read_bytes().strip()
        except FileNotFoundError:
            raise SecurityError(
                f"{self.rel(key_path)}: key file missing",
                hint="restore the key from backups/ or re-run `tbot init --force`",
            ) from None
        except PermissionError:
            raise SecurityError(f"{self.rel(key_path)}: key file not readable by this user") from None
        try:
            Fernet(key)
        except (ValueError, TypeError):
            raise SecurityError(
                f"{self.rel(key_path)}: not a valid Fernet key (corrupted or truncated)",
                hint="restore the key from backups/; the encrypted files need the matching key",
            ) from None
        return key

    def fernet(self) -> Fernet:
        """The key of the generation that is current right now."""
        return self._fernet_for(self.current_generation())

    def _fernet_for(self, number: int) -> Fernet:
        cached = self._fernets.get(number)
        if cached is None:
            cached = Fernet(self.key_bytes(self.paths.generation_dir(number)))
            self._fernets = {number: cached}
        return cached

    def forget_key(self) -> None:
        """Drop cached keys (after a rotation, or when a home was replaced under us)."""
        self._fernets = {}

    # -- artifacts ---------------------------------------------------------------------
    def read(self, rel: Path) -> bytes:
        """Decrypt one artifact, key and ciphertext taken from the same generation."""
        shown = self.paths.current_link / rel
        for _ in range(_READ_ATTEMPTS):
            number = self.current_generation()
            path = self.paths.generation_dir(number) / rel
            try:
                token = path.read_bytes()
                fernet = self._fernet_for(number)
            except (FileNotFoundError, SecurityError):
                if self.current_generation() != number:
                    continue  # a rotation switched generations while we read: read the new one
                if not path.exists():
                    raise SecurityError(
                        f"{self.rel(shown)}: file missing",
                        hint="restore it from backups/ or re-run `tbot init --force`",
                    ) from None
                raise
            try:
                return fernet.decrypt(token)
            except InvalidToken:
                self.forget_key()  # the cached key may belong to a home that was replaced under us
                self.verify_key(number)
                return self.decrypt(token, shown, self._fernet_for(number))
        raise SecurityError(f"{self.rel(shown)}: the vault kept changing while reading", hint="retry")

    def verify_key(self, number: int) -> None:
        """Name the key, not the artifact, when the key is not the one this generation was made with."""
        gen_dir = self.paths.generation_dir(number)
        try:
            recorded = read_generation_meta(gen_dir).get("key_fingerprint")
        except SecurityError:
            return
        if recorded != fingerprint(self.key_bytes(gen_dir)):
            raise SecurityError(
                f"{self.rel(gen_dir / HomePaths.KEY_REL)}: not the key this generation was encrypted with "
                "(its fingerprint differs from generation.json)",
                hint="restore the key from backups/",
            )

    def decrypt(self, token: bytes, path: Path, fernet: Fernet | None = None) -> bytes:
        try:
            return (fernet or self.fernet()).decrypt(token)
        except InvalidToken:
            raise SecurityError(
                f"{self.rel(path)}: does not decrypt with the current key (tampered, truncated or wrong key)",
                hint="restore the file and its key from backups/",
            ) from None

    def write(self, rel: Path, plaintext: bytes, *, initiator: str = "system") -> int:
        """Replace one artifact: a full key rotation (new generation), never an in-place edit."""
        from tbot_core.secrets.rotation import rotate_vault  # rotation builds on this module

        return rotate_vault(self.paths, initiator=initiator, changes={rel: plaintext})

    def delete(self, rel: Path, *, initiator: str = "system") -> int:
        """Remove one artifact through a rotation (the old generation is kept as a backup)."""
        from tbot_core.secrets.rotation import rotate_vault

        return rotate_vault(self.paths, initiator=initiator, changes={rel: None})

    def artifacts(self, generation_dir: Path | None = None) -> Iterator[Path]:
        """Relative paths of every encrypted artifact in a generation."""
        root = generation_dir or self.current_dir()
        for path in sorted(root.rglob("*.enc")):
            yield path.relative_to(root)

    # -- creation ------------------------------------------------------------------------
    def create(self, artifacts: dict[Path, bytes], *, initiator: str = "operator") -> int:
        """Make generation 1 with a fresh key and the given plaintext artifacts."""
        vault = self.paths.vault_dir
        vault.mkdir(parents=True, exist_ok=True, mode=FOLDER_MODE)
        os.chmod(vault, FOLDER_MODE)
        key = Fernet.generate_key()
        gen_dir = self.paths.generation_dir(1)
        write_generation(
            gen_dir,
            key,
            {rel: Fernet(key).encrypt(data) for rel, data in artifacts.items()},
            number=1,
            initiator=initiator,
        )
        record_used_key(self.paths, key)
        switch_current(self.paths, gen_dir)
        self.forget_key()
        return 1


def switch_current(paths: HomePaths, gen_dir: Path) -> None:
    """Point ``vault/current`` at ``gen_dir`` with one atomic rename of a fresh symlink."""
    tmp_link = paths.current_link_staging
    tmp_link.unlink(missing_ok=True)
    os.symlink(gen_dir.name, tmp_link)
    crash_point("link_staged")
    os.replace(tmp_link, paths.current_link)
    fsync_dir(paths.vault_dir)


def write_generation(
    gen_dir: Path,
    key: bytes,
    tokens: dict[Path, bytes],
    *,
    number: int,
    initiator: str,
    extra_meta: dict[str, object] | None = None,
) -> None:
    """Write a complete generation folder (key, ciphertexts, metadata), every file fsynced."""
    gen_dir.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=False)
    folders = {
        gen_dir / HomePaths.KEY_REL.parent,
        gen_dir / HomePaths.SECRETS_REL,
        gen_dir / HomePaths.CONFIG_REL.parent,
    }
    folders.update((gen_dir / rel).parent for rel in tokens)
    for folder in sorted(folders):
        folder.mkdir(mode=FOLDER_MODE, parents=True, exist_ok=True)
    write_bytes_durable(gen_dir / HomePaths.KEY_REL, key + b"\n", mode=FILE_MODE)
    crash_point("key_written")
    for rel, token in tokens.items():
        write_bytes_durable(gen_dir / rel, token, mode=FILE_MODE)
        crash_point("artifact_written")
    meta = {
        "generation": number,
        "key_fingerprint": fingerprint(key),
        "created_utc": iso_z(),
        "initiator": initiator,
        "artifacts": sorted(str(rel) for rel in tokens),
        **(extra_meta or {}),
    }
    write_bytes_durable(gen_dir / HomePaths.GENERATION_META_REL, json.dumps(meta, indent=2).encode(), mode=FILE_MODE)
    crash_point("meta_written")
    for folder in sorted(folders, key=lambda p: len(p.parts), reverse=True):
        fsync_dir(folder)
    fsync_dir(gen_dir)


def read_generation_meta(gen_dir: Path) -> dict[str, Any]:
    meta_path = gen_dir / HomePaths.GENERATION_META_REL
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise SecurityError(f"vault/{gen_dir.name}/{HomePaths.GENERATION_META_REL}: missing") from None
    except (ValueError, UnicodeDecodeError):
        raise SecurityError(f"vault/{gen_dir.name}/{HomePaths.GENERATION_META_REL}: not valid JSON") from None
    if not isinstance(meta, dict):
        raise SecurityError(f"vault/{gen_dir.name}/{HomePaths.GENERATION_META_REL}: expected a JSON object")
    return meta


def used_key_fingerprints(paths: HomePaths) -> set[str]:
    try:
        return set(json.loads(paths.used_keys_file.read_text())["fingerprints"])
    except FileNotFoundError:
        return set()
    except (ValueError, KeyError, TypeError):
        raise SecurityError(
            f"vault/{paths.used_keys_file.name}: garbled key registry; expected JSON with 'fingerprints'"
        ) from None


def record_used_key(paths: HomePaths, key: bytes) -> None:
    """Add a key's fingerprint to the registry; refuse a key that was ever used before."""
    known = used_key_fingerprints(paths)
    fp = fingerprint(key)
    if fp in known:
        raise SecurityError("refusing to reuse a key that this home has used before (found in vault/used_keys.json)")
    known.add(fp)
    atomic_write_bytes(paths.used_keys_file, json.dumps({"fingerprints": sorted(known)}, indent=1).encode())
