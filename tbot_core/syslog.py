"""The system log: one line per event in ``output/{BOT_IDENTITY}/logs/``, JSON or CSV.

The format comes from ``LOG_FORMAT``.  Every line is sanitized; the core runs
with no terminal, so this file (with the audit log) is how an operator sees
what happened.
"""

from __future__ import annotations

import csv
import io
import json
import threading
from pathlib import Path
from typing import Any

from tbot_core.sanitize import sanitize, scrub
from tbot_core.timeutil import iso_z

CSV_FIELDS = ("timestamp_utc", "level", "module", "message", "context")


class SystemLog:
    def __init__(self, path: Path, fmt: str = "JSON") -> None:
        self.path = path
        self.fmt = fmt.upper()
        self._lock = threading.Lock()
        path.parent.mkdir(parents=True, exist_ok=True)
        if self.fmt == "CSV" and not path.exists():
            path.write_text(",".join(CSV_FIELDS) + "\n")

    def write(self, level: str, module: str, message: str, **context: Any) -> None:
        record = {
            "timestamp_utc": iso_z(),
            "level": level,
            "module": module,
            "message": scrub(message),
            "context": sanitize(context),
        }
        if self.fmt == "JSON":
            line = json.dumps(record, sort_keys=True, default=str) + "\n"
        else:
            buf = io.StringIO()
            csv.writer(buf).writerow(
                [
                    record["timestamp_utc"],
                    level,
                    module,
                    record["message"],
                    json.dumps(record["context"], sort_keys=True, default=str),
                ]
            )
            line = buf.getvalue()
        with self._lock, open(self.path, "a", encoding="utf-8") as handle:
            handle.write(line)

    def info(self, module: str, message: str, **context: Any) -> None:
        self.write("info", module, message, **context)

    def warning(self, module: str, message: str, **context: Any) -> None:
        self.write("warning", module, message, **context)

    def error(self, module: str, message: str, **context: Any) -> None:
        self.write("error", module, message, **context)
