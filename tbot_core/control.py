"""Control flags: the only channel from the operator (CLI or console) to the core.

A flag is a small JSON file written atomically into the control folder with
who asked, when and why.  The supervisor reads it, validates it, acknowledges
it in the audit log and removes it.  A flag that is unknown or garbled is moved
to ``control/quarantine/`` and reported, never acted on: a half-written or
tampered "reset" must not clear a kill switch.
"""

from __future__ import annotations

import getpass
import json
import os
import re
import uuid
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.fsutil import atomic_write_text
from tbot_core.paths import HomePaths
from tbot_core.timeutil import iso_z, parse_iso_z, stamp

FLAGS = ("start", "stop", "kill", "reset", "defense_on", "defense_off")
REASON_REQUIRED = frozenset({"reset", "kill"})
MAX_FLAG_BYTES = 4096
_USER_RE = re.compile(r"^[\w.@-]{1,64}$")


@dataclass(frozen=True)
class Operator:
    user: str
    ssh_client: str | None = None

    @classmethod
    def current(cls) -> "Operator":
        try:
            user = getpass.getuser()
        except (KeyError, OSError):
            user = f"uid{os.getuid()}"
        ssh = os.environ.get("SSH_CLIENT") or os.environ.get("SSH_CONNECTION")
        return cls(user=user, ssh_client=ssh.split()[0] if ssh else None)

    def describe(self) -> str:
        return f"{self.user}@{self.ssh_client}" if self.ssh_client else self.user


@dataclass(frozen=True)
class ControlFlag:
    flag: str
    requested_utc: str
    operator: Operator
    reason: str
    nonce: str
    source: str = "cli"  # cli | ui | system

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    def audit_context(self) -> dict[str, Any]:
        return {"flag": self.flag, "requested_utc": self.requested_utc, "operator": self.operator.user,
                "ssh_client": self.operator.ssh_client, "reason": self.reason, "source": self.source, "nonce": self.nonce}


class FlagError(TbotError):
    """A flag file that must not be acted on."""


def write_flag(paths: HomePaths, flag: str, *, reason: str = "", source: str = "cli",
               operator: Operator | None = None) -> ControlFlag:
    """Write a flag atomically. A second request of the same flag replaces the first."""
    if flag not in FLAGS:
        raise FlagError(f"unknown control flag {flag!r}; expected one of {', '.join(FLAGS)}")
    reason = " ".join(reason.split())
    if flag in REASON_REQUIRED and not reason:
        raise FlagError(f"control flag {flag!r} needs a reason")
    if len(reason) > 500:
        raise FlagError("reason: expected at most 500 characters")
    if source not in {"cli", "ui", "system"}:
        raise FlagError(f"flag source {source!r}: expected cli, ui or system")
    record = ControlFlag(flag, iso_z(), operator or Operator.current(), reason, uuid.uuid4().hex, source)
    paths.control_dir.mkdir(parents=True, exist_ok=True)
    atomic_write_text(paths.flag_file(flag), record.to_json())
    return record


def parse_flag(name: str, raw: bytes) -> ControlFlag:
    """Validate a flag file's bytes; any deviation is a ``FlagError``."""
    if len(raw) > MAX_FLAG_BYTES:
        raise FlagError(f"{name}: larger than {MAX_FLAG_BYTES} bytes")
    try:
        data = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        raise FlagError(f"{name}: not valid UTF-8 JSON") from None
    if not isinstance(data, dict):
        raise FlagError(f"{name}: expected a JSON object")
    expected = {"flag", "requested_utc", "operator", "reason", "nonce", "source"}
    if set(data) != expected:
        raise FlagError(f"{name}: expected exactly the fields {', '.join(sorted(expected))}")
    flag, op = data["flag"], data["operator"]
    if flag not in FLAGS or name != f"control_{flag}.flag":
        raise FlagError(f"{name}: flag field {str(flag)[:20]!r} does not match a known flag of this file name")
    if not isinstance(op, dict) or set(op) != {"user", "ssh_client"}:
        raise FlagError(f"{name}: operator: expected an object with user and ssh_client")
    user, ssh = op["user"], op["ssh_client"]
    if not isinstance(user, str) or not _USER_RE.match(user):
        raise FlagError(f"{name}: operator.user: expected a user name")
    if ssh is not None and (not isinstance(ssh, str) or len(ssh) > 64):
        raise FlagError(f"{name}: operator.ssh_client: expected an address or null")
    for field_name in ("requested_utc", "reason", "nonce", "source"):
        if not isinstance(data[field_name], str):
            raise FlagError(f"{name}: {field_name}: expected text")
    try:
        parse_iso_z(data["requested_utc"])
    except ValueError:
        raise FlagError(f"{name}: requested_utc: expected an ISO 8601 UTC time") from None
    if data["source"] not in {"cli", "ui", "system"}:
        raise FlagError(f"{name}: source: expected cli, ui or system")
    if flag in REASON_REQUIRED and not data["reason"].strip():
        raise FlagError(f"{name}: reason: required for {flag}")
    if not re.fullmatch(r"[0-9a-f]{32}", data["nonce"]):
        raise FlagError(f"{name}: nonce: expected 32 hex digits")
    return ControlFlag(flag, data["requested_utc"], Operator(user, ssh), data["reason"], data["nonce"], data["source"])


@dataclass(frozen=True)
class Quarantined:
    file: str
    problem: str


def read_flags(paths: HomePaths, audit: AuditLog | None = None) -> tuple[list[ControlFlag], list[Quarantined]]:
    """Valid pending flags (oldest first) and the files just quarantined."""
    folder = paths.control_dir
    valid: list[ControlFlag] = []
    bad: list[Quarantined] = []
    if not folder.is_dir():
        return valid, bad
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() or entry.name.startswith("."):
            continue
        try:
            raw = entry.read_bytes()
            valid.append(parse_flag(entry.name, raw))
        except FileNotFoundError:
            continue
        except (FlagError, OSError) as exc:
            problem = exc.one_line() if isinstance(exc, FlagError) else f"{entry.name}: unreadable"
            bad.append(Quarantined(entry.name, problem))
            _quarantine(paths, entry)
            if audit is not None:
                audit.append("control", "flag_quarantined", {"file": entry.name, "problem": problem}, severity="warning")
    valid.sort(key=lambda f: f.requested_utc)
    return valid, bad


def _quarantine(paths: HomePaths, entry: Path) -> None:
    paths.quarantine_dir.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(entry, paths.quarantine_file(entry.name, stamp()))
    except FileNotFoundError:
        pass


def acknowledge(paths: HomePaths, audit: AuditLog, flag: ControlFlag, outcome: str, **detail: Any) -> None:
    """Record that the core acted on ``flag`` and remove the file (only if unchanged)."""
    audit.append("control", f"flag_{flag.flag}_acknowledged", {**flag.audit_context(), "outcome": outcome, **detail},
                 actor="system", severity="warning" if flag.flag in {"kill", "reset"} else "info")
    path = paths.flag_file(flag.flag)
    try:
        current = parse_flag(path.name, path.read_bytes())
    except (FileNotFoundError, FlagError):
        return
    if current.nonce == flag.nonce:  # a newer request of the same flag stays pending
        path.unlink(missing_ok=True)


def pending(paths: HomePaths) -> list[str]:
    if not paths.control_dir.is_dir():
        return []
    return sorted(p.name for p in paths.control_dir.glob("control_*.flag"))
