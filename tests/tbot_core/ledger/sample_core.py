"""A fresh paper home whose books hold what a real ``tbot core`` traded over the shipped sample data.

The core runs as a subprocess (``core_harness.start_core``) with ``REPLAY_SPEED=0`` until its replay
feed has delivered every bar of the sample data and every paper fill is marked posted to the ledger;
then it is stopped with the stop flag, as an operator would.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Any

import apsw

from tbot_core.control import write_flag
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tests.tbot_core.runtime.core_harness import FAST, start_core, wait_for

FILL_FIELDS = "fitid, symbol, side, qty, price_cents, fee_cents, timestamp_utc, strategy"


def fresh_home(folder: Path) -> HomePaths:
    """``tbot init`` (paper, sample data) plus the harness's fast timings, REPLAY_SPEED=0 among them."""
    paths, _ = init_home(folder)
    paths.plaintext_env.write_text("".join(f"{k}={v}\n" for k, v in FAST.items()))
    return paths


def sample_span(paths: HomePaths) -> tuple[int, str, str]:
    """(bars, first UTC time, last UTC time) of the home's sample data."""
    with open(paths.sample_ohlcv, newline="", encoding="utf-8") as handle:
        times = [row["timestamp_utc"] for row in csv.DictReader(handle)]
    return len(times), min(times), max(times)


def core_rows(paths: HomePaths, sql: str, args: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    """A read-only query of core.db (the core may be running: WAL readers do not block it)."""
    conn = apsw.Connection(str(paths.core_db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def paper_fills(paths: HomePaths) -> list[tuple[Any, ...]]:
    return core_rows(paths, f"SELECT {FILL_FIELDS} FROM paper_fills ORDER BY timestamp_utc, rowid")


def _replayed(paths: HomePaths, bars: int) -> bool:
    if not paths.core_db.exists():
        return False
    try:
        (cursor,) = core_rows(paths, "SELECT bars FROM engine_cursor WHERE id = 1")
        (unposted,) = core_rows(paths, "SELECT count(*) FROM paper_fills WHERE ledger_posted = 0")
    except (apsw.Error, ValueError):  # the core is still creating its tables
        return False
    return cursor[0] == bars and unposted[0] == 0


def run_core_over_sample(paths: HomePaths, timeout: float = 120.0) -> None:
    """Start ``tbot core`` on ``paths``, wait until the sample data is replayed and booked, stop it (exit 0)."""
    bars, _, _ = sample_span(paths)
    proc = start_core(paths)
    try:
        wait_for(lambda: _replayed(paths, bars) or proc.poll() is not None, "the core to replay the sample", timeout)
        assert proc.poll() is None, (
            f"the core exited early ({proc.returncode}): {proc.stderr.read() if proc.stderr else ''}"
        )
        write_flag(paths, "stop", reason="sample replayed")
        out, err = proc.communicate(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert proc.returncode == 0, err[-2000:]
    assert _replayed(paths, bars)
