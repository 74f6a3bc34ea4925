"""Hash-chained audit appends vs plain APSW inserts of the same rows, in the same run.

Both sides start from the same event dicts, serialize the context the same
way and insert in batches of BATCH rows per transaction into a WAL database;
the audit side also sanitizes, chains and hashes every row and takes the
write lock first.  Target: ratio (audit events/s / plain rows/s) >= 0.5.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core.audit import AuditEvent, AuditLog
from tbot_core.db import connect
from tbot_core.timeutil import iso_z

PLAIN_SCHEMA = """
CREATE TABLE plain_log (seq INTEGER PRIMARY KEY, ts_utc TEXT, category TEXT, event TEXT, severity TEXT,
                        actor TEXT, context TEXT, prev_hash TEXT, row_hash TEXT) STRICT;
"""


def events(n: int) -> list[AuditEvent]:
    return [
        AuditEvent("engine", "verdict", {"symbol": "AAPL", "i": i, "allow": i % 3 != 0, "reason": "adx 18.2 <= 25"})
        for i in range(n)
    ]


def bench_audit(folder: Path, evs: list[AuditEvent], batch: int) -> float:
    with AuditLog(folder / "audit.db") as audit:
        start = time.perf_counter()
        for i in range(0, len(evs), batch):
            audit.append_many(evs[i : i + batch])
        elapsed = time.perf_counter() - start
        assert audit.count() == len(evs)
    return elapsed


def bench_plain(folder: Path, evs: list[AuditEvent], batch: int) -> float:
    conn = connect(folder / "plain.db")
    conn.execute(PLAIN_SCHEMA)
    start = time.perf_counter()
    seq = 0
    for i in range(0, len(evs), batch):
        ts = iso_z()
        rows = []
        for ev in evs[i : i + batch]:
            seq += 1
            ctx = json.dumps(ev.context, sort_keys=True, separators=(",", ":"))
            rows.append((seq, ts, ev.category, ev.event, ev.severity, ev.actor, ctx, "", ""))
        with conn:
            conn.executemany("INSERT INTO plain_log VALUES (?,?,?,?,?,?,?,?,?)", rows)
    elapsed = time.perf_counter() - start
    conn.close()
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--batch", type=int, default=1_000)
    parser.add_argument("--repeat", type=int, default=3, help="best of N runs for each side")
    args = parser.parse_args()
    evs = events(args.events)
    with tempfile.TemporaryDirectory() as tmp:
        plain = chained = float("inf")
        for run in range(args.repeat):
            folder = Path(tmp) / f"run{run}"
            folder.mkdir()
            plain = min(plain, bench_plain(folder, evs, args.batch))
            chained = min(chained, bench_audit(folder, evs, args.batch))
        with AuditLog(folder / "audit.db", readonly=True) as audit:
            start = time.perf_counter()
            audit.verify()
            verify = time.perf_counter() - start
    audit_rate, plain_rate = args.events / chained, args.events / plain
    print(f"best of {args.repeat} runs, batches of {args.batch} events per transaction")
    print(f"audit (hash-chained): {args.events} events in {chained:.3f} s = {audit_rate:,.0f} events/s")
    print(f"plain APSW inserts:   {args.events} rows   in {plain:.3f} s = {plain_rate:,.0f} rows/s")
    print(f"ratio audit/plain: {audit_rate / plain_rate:.2f} (target >= 0.5)")
    print(f"verify of the whole chain: {verify:.3f} s ({args.events / verify:,.0f} rows/s)")


if __name__ == "__main__":
    main()
