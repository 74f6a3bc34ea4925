"""The strategy log: every gate verdict, buffered, appended as JSON lines or CSV.

Operational log only (never the ledger).  Records are kept as objects and
serialised on flush, so deciding a signal costs no formatting or disk I/O.
"""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from tbot_core.enhancements.base import Verdict
from tbot_core.sanitize import sanitize
from tbot_core.signals import Signal

COLUMNS = ("ts_utc", "strategy", "symbol", "side", "module", "allow", "reason", "context", "latency_us")
# The engine flushes on its own beat; this cap only bounds memory if it never does.
FLUSH_EVERY = 4096


class VerdictLog:
    def __init__(self, path: Path, fmt: str) -> None:
        self.path = path
        self.csv = fmt.upper() == "CSV"
        self._pending: list[tuple[Signal, Verdict]] = []

    def add(self, signal: Signal, verdicts: tuple[Verdict, ...]) -> None:
        self._pending.extend((signal, v) for v in verdicts)
        if len(self._pending) >= FLUSH_EVERY:
            self.flush()

    def flush(self) -> None:
        if not self._pending:
            return
        records = [sanitize(v.to_record(s)) for s, v in self._pending]
        self._pending = []
        self.path.parent.mkdir(parents=True, exist_ok=True)
        new_file = not self.path.exists()
        with open(self.path, "a", encoding="utf-8", newline="") as handle:
            handle.write(
                self._csv(records, new_file)
                if self.csv
                else "".join(json.dumps(r, separators=(",", ":"), ensure_ascii=False) + "\n" for r in records)
            )

    @staticmethod
    def _csv(records: list[dict], header: bool) -> str:
        out = io.StringIO()
        writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
        if header:
            writer.writeheader()
        for rec in records:
            writer.writerow({**rec, "context": json.dumps(rec["context"], separators=(",", ":"))})
        return out.getvalue()
