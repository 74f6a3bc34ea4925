"""``state.json``: the core's live picture, the console's only view of it.

The core replaces the file atomically (write, then rename) at a bounded rate;
the console reads it and classifies what it finds as ok, missing, stale or
garbled so it can show a banner instead of crashing.  Both sides use the
dataclasses of ``state_schema.py`` (money as decimal strings, never through a
float); ``docs/state.md`` is generated from them.  Bump ``SCHEMA_VERSION`` on
an incompatible change.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path

from tbot_core.emergency import EMERGENCY_MATRIX
from tbot_core.fsutil import atomic_write_text
from tbot_core.sanitize import sanitize
from tbot_core.state_codec import SchemaError
from tbot_core.state_schema import SCHEMA_VERSION, CoreMode, CoreState, MatrixRowState, MatrixRowView
from tbot_core.timeutil import iso_z, parse_iso_z, utc_now

__all__ = ["SCHEMA_VERSION", "CoreState", "StateRead", "StateWriter", "empty_matrix", "read_state"]

REQUIRED_KEYS = ("schema", "written_utc", "mode", "core")


def empty_matrix() -> tuple[MatrixRowView, ...]:
    return tuple(
        MatrixRowView(
            key=r.key,
            event=r.event,
            detection=r.detection,
            scope=r.scope,
            response=r.response,
            reboot=r.reboot,
            state=MatrixRowState.ARMED,
            last_utc=None,
            cause=None,
        )
        for r in EMERGENCY_MATRIX
    )


class StateWriter:
    """Writes ``state.json`` no more often than ``min_interval_s`` unless forced."""

    def __init__(self, path: Path, *, min_interval_s: float = 0.25) -> None:
        self.path = path
        self.min_interval_s = min_interval_s
        self._last = 0.0
        self.writes = 0

    def due(self) -> bool:
        """Whether an unforced ``write`` would write now (so callers can skip building the state)."""
        return time.monotonic() - self._last >= self.min_interval_s

    def write(self, state: CoreState, *, force: bool = False) -> bool:
        now = time.monotonic()
        if not force and now - self._last < self.min_interval_s:
            return False
        payload = replace(state, schema=SCHEMA_VERSION, written_utc=iso_z()).to_json()
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # durable=False: state.json is a view, rebuilt every tick; rename keeps it whole.
        clean = sanitize(payload)
        # The matrix rows' "key" field is a fixed row identifier that the redactor's
        # "key" rule would blank; restore it from the matrix itself (never from input).
        if isinstance(clean.get("emergency_matrix"), list):
            for row, fixed in zip(clean["emergency_matrix"], EMERGENCY_MATRIX):
                if isinstance(row, dict) and "key" in row:
                    row["key"] = fixed.key
        atomic_write_text(self.path, json.dumps(clean, separators=(",", ":")), durable=False)
        self._last = now
        self.writes += 1
        return True


@dataclass(frozen=True)
class StateRead:
    status: str  # ok | missing | stale | garbled
    state: CoreState | None
    problem: str = ""
    age_seconds: float | None = None

    @property
    def usable(self) -> bool:
        return self.state is not None


def read_state(path: Path, *, stale_after_s: float = 5.0, now: datetime | None = None) -> StateRead:
    """Classify ``path``; ``now`` lets a caller with its own clock (the console, its tests) judge the age."""
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return StateRead("missing", None, "state.json not found: core not running")
    except OSError as exc:
        return StateRead("garbled", None, f"state.json unreadable ({exc.strerror})")
    try:
        data = json.loads(raw)
    except ValueError:
        return StateRead("garbled", None, "state.json is not valid JSON")
    if not isinstance(data, dict) or any(k not in data for k in REQUIRED_KEYS):
        return StateRead("garbled", None, "state.json lacks schema/written_utc/mode/core")
    if data.get("schema") != SCHEMA_VERSION:
        return StateRead("garbled", None, f"state.json schema {data.get('schema')!r}, expected {SCHEMA_VERSION}")
    try:
        written = parse_iso_z(str(data["written_utc"]))
    except ValueError:
        return StateRead("garbled", None, "state.json written_utc is not a UTC time")
    try:
        state = CoreState.from_json(data)  # lenient: an unreadable optional section reads as absent
    except SchemaError as exc:
        return StateRead("garbled", None, f"state.json does not fit the schema ({exc})")
    age = ((now or utc_now()) - written).total_seconds()
    pid = state.core.pid
    if state.mode != CoreMode.STOPPED and not pid_alive(pid):
        return StateRead("stale", state, f"core process {pid} is not running", age)
    if age > stale_after_s and state.mode != CoreMode.STOPPED:
        return StateRead("stale", state, f"state.json is {age:.0f}s old", age)
    return StateRead("ok", state, "", age)


def pid_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
