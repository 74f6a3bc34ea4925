"""``bench/ledger.py`` must keep comparing like with like, and must keep running.

The raw peer is only a fair yardstick while its tables have exactly the
columns of the real ones; a schema change that forgot the bench would
otherwise make the printed ratio quietly meaningless (or crash ``make bench``).
"""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path

import apsw

from tbot_core.ledger.schema import schema_sql

BENCH = Path(__file__).resolve().parents[2] / "bench" / "ledger.py"


def _columns(sql: str) -> dict[str, list[str]]:
    conn = apsw.Connection(":memory:")
    conn.execute(sql)
    tables = [row[0] for row in conn.execute("SELECT name FROM sqlite_schema WHERE type = 'table'")]
    return {table: [row[1] for row in conn.execute(f"PRAGMA table_info({table})")] for table in tables}


def test_raw_peer_tables_have_exactly_the_columns_of_the_real_ones() -> None:
    spec = importlib.util.spec_from_file_location("ledger_bench", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    raw, real = _columns(module.RAW_SCHEMA), _columns(schema_sql())
    assert set(raw) == {"groups", "legs", "lots", "lot_reliefs"}
    for table, columns in raw.items():
        assert columns == real[table], table


def test_bench_runs_end_to_end_on_a_small_history() -> None:
    done = subprocess.run(
        [sys.executable, str(BENCH), "--legs", "2000", "--repeat", "1", "--verify-legs", "5000"],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert any("post_groups (full API)" in line and "ratio" in line for line in lines), done.stdout
    assert any("idempotent re-run" in line for line in lines), done.stdout
    assert any("hash-chain verify" in line and "ratio" in line for line in lines), done.stdout
    assert any("startup check after one new batch" in line and "1 batch(es) re-hashed" in line for line in lines), (
        done.stdout
    )
