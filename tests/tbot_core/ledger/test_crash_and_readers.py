"""Crash safety and isolation: SIGKILL mid-sync, and a reader polling during syncs.

The SIGKILL test runs the real ``tbot ledger sync`` over three overlapping
exports in a subprocess and kills it at 50 seeded random moments spread over
a clean run's duration.  After each kill the books must hold only whole runs
(``ledger check`` passes, every committed batch's legs match its row_count,
no fitid twice), and re-running the same syncs must reach exactly the rows
of an uninterrupted run.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tbot_core.home_init import init_home
from tbot_core.ledger.activity_file import read_activity_file
from tbot_core.ledger.checks import ledger_findings
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.sync import ingest_activities

from .helpers import trading_day, write_csv, write_jsonl

REPO = Path(__file__).resolve().parents[3]
WORKER = Path(__file__).with_name("crash_worker.py")
KILLS = 50


def _exports(folder: Path) -> list[Path]:
    day1, day2 = trading_day("d1", 300), trading_day("d2", 300, offset=1000)
    return [
        write_jsonl(folder / "a.jsonl", day1),
        write_csv(folder / "b.csv", day1[400:] + day2[:300]),
        write_jsonl(folder / "c.jsonl", day2),
    ]


def _counts(db: Path) -> tuple[int, int, int]:
    conn = open_ledger(db, readonly=True)
    try:
        return tuple(
            conn.execute(
                "SELECT (SELECT count(*) FROM groups), (SELECT count(*) FROM legs), "
                "(SELECT count(DISTINCT broker_code || ':' || fitid) FROM groups WHERE fitid IS NOT NULL)"
            ).fetchone()
        )
    finally:
        conn.close()


def _worker(home: Path, files: list[Path]) -> subprocess.Popen[str]:
    env = {**os.environ, "TBOT_HOME": str(home), "PYTHONPATH": str(REPO)}
    env.pop("TBOT_DEBUG", None)
    proc = subprocess.Popen(
        [sys.executable, str(WORKER), *map(str, files)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
        cwd=str(REPO),
    )
    assert proc.stdout is not None and proc.stdout.readline().strip() == "ready"
    return proc


def _resync(db: Path, files: list[Path]) -> None:
    import hashlib

    for path in files:  # same run ids as the CLI derives, so a committed run is a no-op
        run_id = "file-" + hashlib.sha256(b"ALPACA\x1f" + path.read_bytes()).hexdigest()[:24]
        ingest_activities(db, "ALPACA", read_activity_file(path), sync_run_id=run_id)


@pytest.mark.slow
def test_sigkill_at_50_random_moments_leaves_only_whole_runs(tmp_path: Path) -> None:
    template, _ = init_home(tmp_path / "template")
    files = _exports(tmp_path)
    clean_home = tmp_path / "clean"
    shutil.copytree(template.root, clean_home)
    started = time.monotonic()
    proc = _worker(clean_home, files)
    out, err = proc.communicate(timeout=120)
    duration = time.monotonic() - started
    assert proc.returncode == 0, err
    expected = _counts(clean_home / "db" / "ledger.db")
    assert expected[0] == expected[2] == 1 + 600 + 1 + 600  # each distinct activity once, overlap skipped

    rng = random.Random(4242)
    killed_mid_run = 0
    for i in range(KILLS):
        case = tmp_path / f"case{i}"
        shutil.copytree(template.root, case)
        db = case / "db" / "ledger.db"
        proc = _worker(case, files)
        time.sleep(rng.uniform(0, duration))
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
        groups, legs, distinct = _counts(db)
        killed_mid_run += proc.returncode == -signal.SIGKILL and 0 < groups < expected[0]
        assert groups == distinct, f"kill {i}: a fitid was booked twice"
        bad = [f for f in ledger_findings(db) if not f.ok]
        assert not bad, f"kill {i}: {bad}"
        _resync(db, files)
        assert _counts(db) == expected, f"kill {i}: re-run did not reach the uninterrupted totals"
        shutil.rmtree(case)
    assert killed_mid_run >= 5, "the random kills never landed between runs; the test exercised nothing"


READER = r"""
import sys, time
import apsw
db, stop = sys.argv[1], sys.argv[2]
seen, bad, polls = set(), 0, 0
conn = apsw.Connection(db, flags=apsw.SQLITE_OPEN_READONLY)
conn.set_busy_timeout(5000)
import os
def poll():
    global polls, bad
    legs, sealed, groups, orphans = conn.execute(
        "SELECT (SELECT count(*) FROM legs), (SELECT coalesce(sum(row_count), 0) FROM batches), (SELECT count(*) FROM groups), "
        "(SELECT count(*) FROM groups g WHERE NOT EXISTS (SELECT 1 FROM batches b WHERE b.batch_id = g.batch_id))").fetchone()
    polls += 1
    seen.add(legs)
    if legs != sealed or orphans:
        bad += 1
poll()
print("ready", flush=True)
while not os.path.exists(stop):
    poll()
poll()
print(polls, len(seen), bad)
"""


def test_read_only_reader_never_sees_a_partial_run(tmp_path: Path) -> None:
    """A reader process polling while runs commit only ever sees legs that sealed batches account for."""
    from .helpers import fresh_ledger

    db = fresh_ledger(tmp_path)
    stop = tmp_path / "stop"
    reader = subprocess.Popen([sys.executable, "-c", READER, str(db), str(stop)], stdout=subprocess.PIPE, text=True)
    try:
        assert reader.stdout is not None and reader.stdout.readline().strip() == "ready"
        for run in range(12):
            ingest_activities(db, "PAPER", trading_day(f"r{run}", 150, offset=run * 1000), sync_run_id=f"run-{run}")
    finally:
        stop.touch()
        out, _ = reader.communicate(timeout=60)
    polls, distinct_totals, bad = map(int, out.split())
    assert bad == 0, f"reader saw {bad} partial states in {polls} polls"
    assert distinct_totals >= 2, "the reader did not observe the runs progressing"
