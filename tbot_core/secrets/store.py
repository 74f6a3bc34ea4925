"""Named secrets (broker keys, screener key, notifier accounts): the one API that reads them.

Each secret is ``secrets/NAME.json.enc`` inside the current vault generation:
an encrypted JSON object holding its fields, a version counter and the UTC
time it was last set.  Every ``set`` or ``delete`` is a full key rotation, so
the change, the new key and the backup of the old generation land together.
Every value read is registered with the sanitizer, so it is scrubbed from any
message, log line or audit row the process writes afterwards.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from tbot_core.errors import SecurityError
from tbot_core.paths import HomePaths
from tbot_core.sanitize import register_secret
from tbot_core.secrets.rotation import VaultHome, rotate
from tbot_core.secrets.schema import schema_for, validate
from tbot_core.timeutil import iso_z

_SUFFIX = ".json.enc"


@dataclass(frozen=True)
class SecretInfo:
    """What may be shown about a secret: never its values."""

    name: str
    fields: tuple[str, ...]
    version: int
    updated_utc: str


class SecretStore:
    def __init__(self, home: VaultHome) -> None:
        self.home = home

    def _shown(self, name: str) -> str:
        return f"vault/current/{HomePaths.secret_rel(name)}"

    def _load(self, name: str) -> dict[str, Any]:
        """The decrypted JSON record; its ``fields`` checked to be a dict of text."""
        schema_for(name)
        vault = self.home.vault
        if not (vault.paths.current_link / HomePaths.secret_rel(name)).exists():
            raise SecurityError(
                f"secret {name} ({self._shown(name)}): not set", hint=f"tbot secrets set {name} --stdin"
            )
        raw = vault.read(HomePaths.secret_rel(name))
        try:
            payload = json.loads(raw.decode("utf-8"))
            fields = payload["fields"]
            if not isinstance(fields, dict) or not all(isinstance(v, str) for v in fields.values()):
                raise ValueError
        except (UnicodeDecodeError, ValueError, KeyError, TypeError):
            raise SecurityError(
                f"{self._shown(name)}: decrypts but is not a secret record (expected JSON with 'fields')"
            ) from None
        return payload

    def get(self, name: str) -> dict[str, str]:
        """The fields of one secret; raises ``SecurityError`` naming the file if missing or undecryptable."""
        payload = self._load(name)
        fields: dict[str, str] = dict(payload["fields"])
        public = schema_for(name).public
        for key, value in fields.items():
            if key not in public:
                register_secret(value)
        return fields

    def info(self, name: str) -> SecretInfo:
        payload = self._load(name)
        return SecretInfo(
            name,
            tuple(sorted(payload["fields"])),
            int(payload.get("version", 1)),
            str(payload.get("updated_utc", "")),
        )

    def names(self) -> list[str]:
        folder = self.home.paths.secrets_dir
        if not folder.is_dir():
            return []
        return sorted(p.name.removesuffix(_SUFFIX) for p in folder.glob(f"*{_SUFFIX}"))

    def set(self, name: str, data: object, *, initiator: str = "operator") -> int:
        """Validate ``data`` (parsed JSON: any value, checked here), then store it through a rotation.

        Returns the secret's new version.
        """
        fields = validate(name, data)
        for key, value in fields.items():
            if key not in schema_for(name).public:
                register_secret(value)
        version = self.info(name).version + 1 if name in self.names() else 1
        payload = {"fields": fields, "version": version, "updated_utc": iso_z()}
        generation = rotate(
            self.home,
            initiator=initiator,
            changes={HomePaths.secret_rel(name): json.dumps(payload, sort_keys=True).encode("utf-8")},
        )
        with self.home.audit() as audit:
            audit.append(
                "secrets",
                "secret_set",
                {"name": name, "fields": sorted(fields), "version": version, "generation": generation},
                actor=initiator,
            )
        return version

    def delete(self, name: str, *, initiator: str = "operator") -> int:
        """Remove a secret through a rotation; the previous generation stays as an encrypted backup."""
        schema_for(name)
        if name not in self.names():
            raise SecurityError(f"secret {name} ({self._shown(name)}): not set, nothing to delete")
        generation = rotate(self.home, initiator=initiator, changes={HomePaths.secret_rel(name): None})
        with self.home.audit() as audit:
            audit.append(
                "secrets",
                "secret_deleted",
                {"name": name, "generation": generation},
                actor=initiator,
                severity="warning",
            )
        return generation
