"""The sweep's journal: one JSON line per finished run, appended the moment it finishes.

Each batch of lines goes out in a single ``write`` on an ``O_APPEND`` descriptor and is fsynced, so a Ctrl-C or
a crash leaves whole lines; a torn last line (no newline, or not JSON) is ignored on reading.
``--resume`` reads the journal and skips every run id it holds.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from tbot_core.paths import FILE_MODE


class Journal:
    def __init__(self, path: Path) -> None:
        self.path = path

    def read(self) -> dict[str, dict[str, Any]]:
        """Finished runs by run id (a later line for the same id wins)."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return {}
        found: dict[str, dict[str, Any]] = {}
        for line in text.splitlines(keepends=True):
            if not line.endswith("\n"):
                break  # torn by an interrupted write: that run is simply run again
            try:
                row = json.loads(line)
            except ValueError:
                continue
            if isinstance(row, dict) and isinstance(row.get("run_id"), str):
                found[row["run_id"]] = row
        return found

    def resume(self) -> dict[str, dict[str, Any]]:
        """The finished runs, after cutting a torn last line off so the next append starts a line of its own."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return {}
        whole = data.rfind(b"\n") + 1
        if whole < len(data):
            os.truncate(self.path, whole)
        return self.read()

    def append(self, row: dict[str, Any]) -> None:
        self.append_many([row])

    def append_many(self, rows: list[dict[str, Any]]) -> None:
        """The rows as whole lines, in one write and one fsync."""
        data = "".join(json.dumps(row, sort_keys=True, separators=(",", ":")) + "\n" for row in rows).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, FILE_MODE)
        try:
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def reset(self) -> None:
        self.path.unlink(missing_ok=True)
