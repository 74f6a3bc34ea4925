"""Control flags: the only channel from the operator (CLI or console) to the core.

A flag is a small JSON file written atomically into the control folder with
who asked, when and why.  The supervisor reads it, validates it, acknowledges
it in the audit log and removes it.  A flag that is unknown or garbled is moved
to ``control/quarantine/`` and reported, never acted on: a half-written or
tampered "reset" must not clear a kill switch.

Every request gets its own file, ``control_NAME.STAMP.NONCE.flag``: a system
stop written in the same poll as an operator's stop must not replace it (one
restarts the engine, the other shuts the core down), so both are kept and
handled oldest first.  Writers hold ``control/.lock`` while they take the time
and rename the file into place, so the order of requested times is the order
in which requests become visible.  The lock only orders: a writer or reader
that cannot get it within ``LOCK_WAIT_S`` goes ahead without it, because a
stuck ``tbot control`` process must never stop a safety stop from landing or
the supervisor from reading.

An operator may still write the plain legacy name ``control_NAME.flag`` by hand
(for example a record copied from an earlier flag), but only with the same
complete JSON record; the reader renames it to its own request name before
returning it, so acknowledging it removes exactly that request.  Anything else
in a flag file is quarantined: an empty or free-text ``control_reset.flag`` is
indistinguishable from a half-written one.
"""

from __future__ import annotations

import fcntl
import getpass
import json
import os
import re
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.errors import TbotError
from tbot_core.fsutil import atomic_write_text
from tbot_core.paths import FILE_MODE, FLAG_FILE_RE, HomePaths
from tbot_core.timeutil import iso_z, parse_iso_z, stamp

# ack_mismatch: the operator accepts the broker-vs-books mismatch that blocks new entries (runtime/reconcile.py).
FLAGS = ("start", "stop", "kill", "reset", "defense_on", "defense_off", "ack_mismatch")
REASON_REQUIRED = frozenset({"reset", "kill"})
MAX_FLAG_BYTES = 4096
LOCK_WAIT_S = 1.0
_USER_RE = re.compile(r"^[\w.@-]{1,64}$")


@dataclass(frozen=True)
class Operator:
    user: str
    ssh_client: str | None = None

    @classmethod
    def current(cls) -> Operator:
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
        return {
            "flag": self.flag,
            "requested_utc": self.requested_utc,
            "operator": self.operator.user,
            "ssh_client": self.operator.ssh_client,
            "reason": self.reason,
            "source": self.source,
            "nonce": self.nonce,
        }


class FlagError(TbotError):
    """A flag file that must not be acted on."""


def write_flag(
    paths: HomePaths, flag: str, *, reason: str = "", source: str = "cli", operator: Operator | None = None
) -> ControlFlag:
    """Write one request atomically under its own name; earlier requests, of any flag, stay pending."""
    if flag not in FLAGS:
        raise FlagError(f"unknown control flag {flag!r}; expected one of {', '.join(FLAGS)}")
    reason = " ".join(reason.split())
    if flag in REASON_REQUIRED and not reason:
        raise FlagError(f"control flag {flag!r} needs a reason")
    if len(reason) > 500:
        raise FlagError("reason: expected at most 500 characters")
    if source not in {"cli", "ui", "system"}:
        raise FlagError(f"flag source {source!r}: expected cli, ui or system")
    who = operator or Operator.current()
    paths.control_dir.mkdir(parents=True, exist_ok=True)
    with _ordering_lock(paths, fcntl.LOCK_EX):
        record = ControlFlag(flag, iso_z(), who, reason, uuid.uuid4().hex, source)
        atomic_write_text(flag_path(paths, record), record.to_json())  # temp name starts with "."
    return record


def flag_path(paths: HomePaths, record: ControlFlag) -> Path:
    """The file that holds exactly this request."""
    return paths.flag_request_file(record.flag, stamp(parse_iso_z(record.requested_utc)), record.nonce)


@contextmanager
def _ordering_lock(paths: HomePaths, kind: int) -> Iterator[bool]:
    """Hold ``control/.lock`` (``kind`` is LOCK_EX or LOCK_SH) if it comes within LOCK_WAIT_S; yields whether held."""
    try:
        fd = os.open(paths.control_lock, os.O_RDWR | os.O_CREAT, FILE_MODE)
    except OSError:
        fd = -1
    if fd < 0:  # outside the except block, so the caller's own errors carry no unrelated context
        yield False
        return
    try:
        deadline = time.monotonic() + LOCK_WAIT_S
        held = False
        while not held:
            try:
                fcntl.flock(fd, kind | fcntl.LOCK_NB)
                held = True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    break
                time.sleep(0.005)
        yield held
    finally:
        os.close(fd)  # closing the descriptor releases the lock


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
    named = FLAG_FILE_RE.match(name)
    if flag not in FLAGS or named is None or named["flag"] != flag:
        raise FlagError(f"{name}: flag field {str(flag)[:20]!r} does not match a known flag of this file name")
    if not isinstance(op, dict) or set(op) != {"user", "ssh_client"}:
        raise FlagError(f"{name}: operator: expected an object with user and ssh_client")
    user, ssh = op["user"], op["ssh_client"]
    if not isinstance(user, str) or not _USER_RE.fullmatch(user):  # fullmatch: "$" alone lets "bob\n" through
        raise FlagError(f"{name}: operator.user: expected a user name")
    if ssh is not None and (not isinstance(ssh, str) or len(ssh) > 64):
        raise FlagError(f"{name}: operator.ssh_client: expected an address or null")
    for field_name in ("requested_utc", "reason", "nonce", "source"):
        if not isinstance(data[field_name], str):
            raise FlagError(f"{name}: {field_name}: expected text")
    try:
        requested = parse_iso_z(data["requested_utc"])
    except (ValueError, OverflowError):
        raise FlagError(f"{name}: requested_utc: expected an ISO 8601 UTC time") from None
    if data["source"] not in {"cli", "ui", "system"}:
        raise FlagError(f"{name}: source: expected cli, ui or system")
    if flag in REASON_REQUIRED and not data["reason"].strip():
        raise FlagError(f"{name}: reason: required for {flag}")
    if not re.fullmatch(r"[0-9a-f]{32}", data["nonce"]):
        raise FlagError(f"{name}: nonce: expected 32 hex digits")
    if named["stamp"] and (named["nonce"] != data["nonce"] or named["stamp"] != stamp(requested)):
        raise FlagError(f"{name}: file name does not match the record's requested_utc and nonce")
    return ControlFlag(flag, data["requested_utc"], Operator(user, ssh), data["reason"], data["nonce"], data["source"])


@dataclass(frozen=True)
class Quarantined:
    file: str
    problem: str


def read_flags(paths: HomePaths, audit: AuditLog | None = None) -> tuple[list[ControlFlag], list[Quarantined]]:
    """Valid pending requests, oldest requested first (ties by file name), and the files just quarantined."""
    folder = paths.control_dir
    bad: list[Quarantined] = []
    if not folder.is_dir():
        return [], bad
    with _ordering_lock(paths, fcntl.LOCK_SH):  # a listing never shows a later request without an earlier one
        entries = sorted(folder.iterdir())
    found: list[tuple[tuple[datetime, str], ControlFlag, Path]] = []
    for entry in entries:
        if entry.name.startswith(".") or entry.is_dir():
            continue
        try:
            record = parse_flag(entry.name, entry.read_bytes())
            named = FLAG_FILE_RE.match(entry.name)
            if named is not None and not named["stamp"]:
                entry = _adopt_legacy(paths, entry, record)
                record = parse_flag(entry.name, entry.read_bytes())  # replaced by hand while being renamed?
        except FileNotFoundError:
            continue
        except (FlagError, OSError) as exc:
            _reject(
                paths, audit, entry, exc.one_line() if isinstance(exc, FlagError) else f"{entry.name}: unreadable", bad
            )
            continue
        found.append(((parse_iso_z(record.requested_utc), entry.name), record, entry))
    found.sort(key=lambda item: item[0])
    valid: list[ControlFlag] = []
    seen: set[str] = set()
    for _key, record, entry in found:
        if record.nonce in seen:  # a copy would replay a request the core is about to act on
            _reject(paths, audit, entry, f"{entry.name}: nonce repeats an earlier pending request", bad)
            continue
        seen.add(record.nonce)
        valid.append(record)
    return valid, bad


def _adopt_legacy(paths: HomePaths, entry: Path, record: ControlFlag) -> Path:
    """Give a hand-written ``control_NAME.flag`` its own request name so acknowledging it removes only it."""
    target = flag_path(paths, record)
    if target.exists():
        raise FlagError(f"{entry.name}: same request as the pending {target.name}")
    os.rename(entry, target)
    return target


def _reject(paths: HomePaths, audit: AuditLog | None, entry: Path, problem: str, bad: list[Quarantined]) -> None:
    bad.append(Quarantined(entry.name, problem))
    _quarantine(paths, entry)
    if audit is not None:
        audit.append("control", "flag_quarantined", {"file": entry.name, "problem": problem}, severity="warning")


def _quarantine(paths: HomePaths, entry: Path) -> None:
    paths.quarantine_dir.mkdir(parents=True, exist_ok=True)
    try:
        os.replace(entry, paths.quarantine_file(entry.name, stamp()))
    except FileNotFoundError:
        pass


def acknowledge(paths: HomePaths, audit: AuditLog, flag: ControlFlag, outcome: str, **detail: Any) -> None:
    """Record that the core acted on ``flag`` and remove exactly that request; other requests stay pending."""
    audit.append(
        "control",
        f"flag_{flag.flag}_acknowledged",
        {**flag.audit_context(), "outcome": outcome, **detail},
        actor="system",
        severity="warning" if flag.flag in {"kill", "reset"} else "info",
    )
    flag_path(paths, flag).unlink(missing_ok=True)
    legacy = paths.flag_file(flag.flag)  # only if read_flags could not rename it
    try:
        current = parse_flag(legacy.name, legacy.read_bytes())
    except (OSError, FlagError):
        return
    if current.nonce == flag.nonce:
        legacy.unlink(missing_ok=True)


def pending(paths: HomePaths) -> list[str]:
    """Every pending flag file, in the order the core will handle them; reads only, never quarantines."""
    if not paths.control_dir.is_dir():
        return []
    keyed = []
    for entry in paths.control_dir.glob("control_*.flag"):
        try:
            when: datetime | None = parse_iso_z(parse_flag(entry.name, entry.read_bytes()).requested_utc)
        except (OSError, FlagError):
            when = None  # the core will quarantine it; list it last
        keyed.append((when is None, when or datetime.min.replace(tzinfo=UTC), entry.name))
    return [name for *_key, name in sorted(keyed)]
