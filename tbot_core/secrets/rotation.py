"""Atomic key rotation: a brand-new key re-encrypts every artifact as one new generation.

Steps, under the vault lock:

1. recover leftovers of any earlier interrupted rotation;
2. decrypt every artifact of the current generation (any failure stops here,
   nothing written) and apply the requested changes;
3. register the new key's fingerprint (a key is never used twice);
4. write ``gen-N.staging`` (key, ciphertexts, metadata), every file fsynced;
5. keep the old generation as an encrypted backup under ``backups/``;
6. rename the staging folder to ``gen-N``;
7. switch ``vault/current`` with one atomic rename of a symlink: the commit point;
8. remove the old generation folder, audit the rotation.

A SIGKILL before step 7 leaves the old generation current and complete; after
it, the new one.  :func:`recover` sweeps whatever a killed rotation left
(staging folders, unswitched or old generations, temp files) and adds the
audit row if the kill came between the switch and the audit.
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from cryptography.fernet import Fernet

from tbot_core.audit import AuditLog
from tbot_core.errors import ConfigError, SecurityError, TbotError
from tbot_core.fsutil import fsync_dir, is_private
from tbot_core.paths import HomePaths
from tbot_core.secrets.backup import write_backup
from tbot_core.secrets.crashpoints import crash_point
from tbot_core.secrets.lock import VaultLock
from tbot_core.secrets.vault import Vault, read_generation_meta, record_used_key, switch_current, write_generation

ROTATION_CATEGORY = "secrets_rotation"
INITIATORS = ("operator", "system")
_GENERATION_NAME = re.compile(r"^gen-(\d{6})(\.staging)?$")
_PROTECTED = {HomePaths.KEY_REL, HomePaths.GENERATION_META_REL}

# A change is new plaintext, None to delete, or a function of the current plaintext (None when
# absent) applied under the vault lock — so a read-modify-write (``tbot config set``) never loses
# a concurrent update.
Changes = dict[Path, "bytes | None | Callable[[bytes | None], bytes]"]


class VaultHome(Protocol):
    """What the vault's users need of a ``BotHome`` (``tbot_core.home`` imports this package, not the reverse)."""

    paths: HomePaths
    vault: Vault

    def audit(self, *, readonly: bool = False) -> AuditLog: ...


def rotate(home: VaultHome, *, initiator: str, changes: Changes | None = None, new_key: bytes | None = None) -> int:
    """Rotate the vault of ``home`` (a ``BotHome``) and drop its cached key, settings and identity.

    ``changes`` maps artifact paths relative to a generation (``HomePaths.CONFIG_REL``,
    ``HomePaths.secret_rel(name)``) to new plaintext, or None to delete.  ``new_key``
    lets an operator bring their own key; it is refused if it was ever used.
    """
    number = rotate_vault(home.paths, initiator=initiator, changes=changes, new_key=new_key)
    home.vault.forget_key()
    for cached in ("settings", "identity"):
        home.__dict__.pop(cached, None)
    return number


def rotate_vault(
    paths: HomePaths, *, initiator: str, changes: Changes | None = None, new_key: bytes | None = None
) -> int:
    """:func:`rotate` for code that has only a ``HomePaths``; returns the new generation number."""
    if initiator not in INITIATORS:
        raise ConfigError(f"rotation initiator {initiator!r}: expected one of {'|'.join(INITIATORS)}")
    changes = _checked_changes(changes or {})
    key = _checked_key(new_key) if new_key is not None else Fernet.generate_key()
    with VaultLock(paths.vault_lock_file):
        crash_point("locked")
        _recover_locked(paths)
        vault = Vault(paths)
        old_number = vault.current_generation()
        old_dir = paths.generation_dir(old_number)
        plaintexts = _decrypt_all(vault, old_number)
        for rel, data in changes.items():
            if callable(data):
                data = data(plaintexts.get(rel))
                if not isinstance(data, bytes):
                    raise ConfigError(
                        f"rotation change {rel}: the update function returned {type(data).__name__}, not bytes"
                    )
            if data is None:
                if rel not in plaintexts:
                    raise SecurityError(f"{vault.rel(paths.current_link / rel)}: cannot delete, no such file")
                del plaintexts[rel]
            else:
                plaintexts[rel] = data
        record_used_key(paths, key)
        crash_point("key_registered")
        new_number = old_number + 1
        staging = paths.generation_staging_dir(new_number)
        fernet = Fernet(key)
        meta = {
            "previous_generation": old_number,
            "changed": sorted(str(rel) for rel, data in changes.items() if data is not None),
            "deleted": sorted(str(rel) for rel, data in changes.items() if data is None),
        }
        write_generation(
            staging,
            key,
            {rel: fernet.encrypt(data) for rel, data in sorted(plaintexts.items())},
            number=new_number,
            initiator=initiator,
            extra_meta=meta,
        )
        crash_point("staged")
        backup = write_backup(paths, old_number, old_dir, fernet)
        crash_point("backed_up")
        new_dir = paths.generation_dir(new_number)
        os.rename(staging, new_dir)
        fsync_dir(paths.vault_dir)
        crash_point("staging_renamed")
        switch_current(paths, new_dir)
        crash_point("switched")
        _remove_tree(old_dir)
        fsync_dir(paths.vault_dir)
        crash_point("old_removed")
        _audit_rotation(paths, new_number, backup=backup.name, recovered=False)
        crash_point("audited")
    return new_number


def recover(home: VaultHome) -> list[str]:
    """Clean what an interrupted rotation left so exactly one generation exists; returns what was removed."""
    with VaultLock(home.paths.vault_lock_file):
        cleaned = _recover_locked(home.paths)
    home.vault.forget_key()
    return cleaned


def _recover_locked(paths: HomePaths) -> list[str]:
    vault = Vault(paths)
    current = vault.current_generation()
    current_dir = paths.generation_dir(current)
    if not current_dir.is_dir():
        raise SecurityError(
            f"vault/current: points at {current_dir.name}, which does not exist", hint="restore vault/ from backups/"
        )
    cleaned: list[str] = []
    if paths.current_link_staging.is_symlink() or paths.current_link_staging.exists():
        paths.current_link_staging.unlink()
        cleaned.append(paths.current_link_staging.name)
    for entry in sorted(paths.vault_dir.iterdir()):
        if _GENERATION_NAME.match(entry.name) and entry != current_dir:
            _remove_tree(entry)
            cleaned.append(entry.name)
    temp_files = [
        *paths.vault_dir.glob(f".{paths.used_keys_file.name}.*.tmp"),
        *paths.backups_dir.glob(".vault-gen-*.tmp"),
    ]
    for temp in temp_files:
        temp.unlink(missing_ok=True)
        cleaned.append(temp.name)
    if cleaned:
        fsync_dir(paths.vault_dir)
    meta = read_generation_meta(current_dir)
    if "previous_generation" in meta and not _rotation_audited(paths, current):
        _audit_rotation(paths, current, backup=None, recovered=True)
        cleaned.append(f"missing audit row for generation {current}")
    return cleaned


def _checked_changes(changes: Changes) -> Changes:
    checked: Changes = {}
    for rel, data in changes.items():
        rel = Path(rel)
        if rel.is_absolute() or ".." in rel.parts or not rel.name.endswith(".enc") or rel in _PROTECTED:
            raise ConfigError(
                f"rotation change {rel}: expected a relative path to an .enc artifact inside a generation"
            )
        if data is not None and not isinstance(data, bytes) and not callable(data):
            raise ConfigError(f"rotation change {rel}: expected bytes, None or a function, got {type(data).__name__}")
        checked[rel] = data
    return checked


def _checked_key(key: bytes) -> bytes:
    key = key.strip()
    try:
        Fernet(key)
    except (ValueError, TypeError):
        raise SecurityError(
            "supplied key: not a valid Fernet key (expected 32 url-safe base64-encoded bytes)"
        ) from None
    return key


def _decrypt_all(vault: Vault, number: int) -> dict[Path, bytes]:
    """Every plaintext of a generation; stops at the first file that is exposed, mismatched or undecryptable.

    A key or secret that group or others could read is refused rather than silently
    re-encrypted: the operator must see that it may have leaked (fix the mode, then rotate).
    """
    gen_dir = vault.paths.generation_dir(number)
    artifacts = list(vault.artifacts(gen_dir))
    for rel in [HomePaths.KEY_REL, *artifacts]:
        if (gen_dir / rel).exists() and not is_private(gen_dir / rel):
            raise SecurityError(
                f"{vault.rel(gen_dir / rel)}: readable by group or others; refusing to rotate",
                hint=f"chmod 600 {vault.rel(gen_dir / rel)}, then rotate again (treat its contents as leaked)",
            )
    vault.verify_key(number)
    fernet = Fernet(vault.key_bytes(gen_dir))
    return {
        rel: vault.decrypt((gen_dir / rel).read_bytes(), vault.paths.current_link / rel, fernet) for rel in artifacts
    }


def _remove_tree(root: Path) -> None:
    """Delete a generation folder file by file (a crash midway leaves a folder recovery removes)."""
    if not root.exists():
        return
    for folder, subdirs, files in os.walk(root, topdown=False):
        for name in files:
            (Path(folder) / name).unlink()
            crash_point("old_file_removed")
        for name in subdirs:
            (Path(folder) / name).rmdir()
    os.rmdir(root)


def _rotation_audited(paths: HomePaths, generation: int) -> bool:
    if not paths.audit_db.exists():
        return False
    with AuditLog(paths.audit_db, readonly=True) as audit:
        return any(
            row.context_dict().get("generation") == generation for row in audit.tail(5, category=ROTATION_CATEGORY)
        )


def _audit_rotation(paths: HomePaths, generation: int, *, backup: str | None, recovered: bool) -> None:
    meta = read_generation_meta(paths.generation_dir(generation))
    context = {
        "generation": generation,
        "previous_generation": meta.get("previous_generation"),
        "fingerprint": meta.get("key_fingerprint"),
        "initiator": meta.get("initiator"),
        "artifacts": meta.get("artifacts"),
        "changed": meta.get("changed"),
        "deleted": meta.get("deleted"),
        "backup": backup,
        "recovered": recovered,
    }
    actor = meta.get("initiator") if meta.get("initiator") in INITIATORS else "system"
    try:
        with AuditLog(paths.audit_db) as audit:
            audit.append(
                ROTATION_CATEGORY, "rotation_recovered" if recovered else "key_rotated", context, actor=str(actor)
            )
    except TbotError as exc:
        raise TbotError(
            f"generation {generation} is current, but the rotation audit row could not be written: {exc}",
            hint="the next start (`tbot self-check`) adds it",
        ) from None
