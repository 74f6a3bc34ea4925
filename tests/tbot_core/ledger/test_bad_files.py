"""Bad export files: one clear line naming line and field, non-zero exit, nothing written."""

from __future__ import annotations

from pathlib import Path

import pytest

from tbot_core.ledger.conn import open_ledger
from tests.conftest import run_tbot

HEADER = "fitid,type,symbol,side,qty,price,amount,fee,timestamp_utc\n"
GOOD = "f1,FILL,AAPL,buy,10,150,-1500,1,2025-01-02T15:00:00Z\n"

CASES = {
    "missing_column": (
        "a.csv",
        (
            b"fitid,type,symbol,side,qty,price,amount,timestamp_utc\n"
            b"f1,FILL,AAPL,buy,10,150,-1500,2025-01-02T15:00:00Z\n"
        ),
        ["line 1", "fee"],
    ),
    "bad_decimal": (
        "a.csv",
        (HEADER + GOOD + "f2,FILL,AAPL,buy,ten,150,-1500,1,2025-01-02T15:00:00Z\n").encode(),
        ["line 3", "field qty"],
    ),
    "unknown_type": (
        "a.jsonl",
        (
            b'{"fitid":"x","type":"SWAP","symbol":"A","side":"","qty":"0","price":"0","amount":"1",'
            b'"fee":"0","timestamp_utc":"2025-01-02T15:00:00Z"}\n'
        ),
        ["line 1", "field type"],
    ),
    "bad_timestamp": (
        "a.csv",
        (HEADER + GOOD + GOOD.replace("f1", "f3").replace("2025-01-02T15:00:00Z", "2025-01-02 15:00")).encode(),
        ["line 3", "field timestamp_utc"],
    ),
    "empty": ("a.csv", b"", ["empty"]),
    "binary_junk": ("a.csv", bytes(range(256)) * 4, ["binary"]),
    "bad_utf8": ("a.jsonl", b'{"fitid": "\xff\xfe"}\n', ["UTF-8"]),
    "fill_amount_mismatch": (
        "a.csv",
        (HEADER + "f1,FILL,AAPL,buy,10,150,-15,1,2025-01-02T15:00:00Z\n").encode(),
        ["line 2", "field amount"],
    ),
}


def _rows(db: Path) -> tuple[int, int, int]:
    conn = open_ledger(db, readonly=True)
    try:
        return tuple(
            conn.execute(
                "SELECT (SELECT count(*) FROM legs), (SELECT count(*) FROM batches), "
                "(SELECT count(*) FROM failed_batches)"
            ).fetchone()
        )
    finally:
        conn.close()


@pytest.mark.parametrize("case", sorted(CASES))
def test_bad_file_is_one_line_error_and_writes_nothing(home_paths, tmp_path: Path, case: str) -> None:
    name, data, needles = CASES[case]
    path = tmp_path / name
    path.write_bytes(data)
    before = _rows(home_paths.ledger_db)
    result = run_tbot("ledger", "sync", "--broker", "ALPACA", "--file", str(path), home=home_paths.root)
    assert result.returncode != 0
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.stderr and name in lines[0]
    for needle in needles:
        assert needle in lines[0], lines[0]
    assert _rows(home_paths.ledger_db) == before


def test_good_file_then_changed_fitid_content_fails_naming_the_fitid(home_paths, tmp_path: Path) -> None:
    """Overlap is skipped and counted; a known fitid with different content rolls the run back, named."""
    first = tmp_path / "one.csv"
    first.write_text(HEADER + "t1,TRANSFER,,,,,5000,0,2025-01-02T14:00:00Z\n" + GOOD)
    ok = run_tbot("ledger", "sync", "--broker", "ALPACA", "--file", str(first), home=home_paths.root)
    assert ok.returncode == 0 and "posted 2 activities" in ok.stdout
    overlap = tmp_path / "two.csv"
    overlap.write_text(HEADER + GOOD + "f9,FILL,AAPL,sell,4,160,640,1,2025-01-03T15:00:00Z\n")
    again = run_tbot("ledger", "sync", "--broker", "ALPACA", "--file", str(overlap), home=home_paths.root)
    assert again.returncode == 0 and "posted 1 activities" in again.stdout and "skipped 1" in again.stdout
    before = _rows(home_paths.ledger_db)
    changed = tmp_path / "three.csv"
    changed.write_text(HEADER + GOOD.replace(",1,2025", ",2,2025") + "f10,DIVIDEND,AAPL,,,,3,0,2025-01-04T15:00:00Z\n")
    bad = run_tbot("ledger", "sync", "--broker", "ALPACA", "--file", str(changed), home=home_paths.root)
    assert bad.returncode != 0 and "fitid f1" in bad.stderr and len(bad.stderr.strip().splitlines()) == 1
    legs, batches, failed = _rows(home_paths.ledger_db)
    assert (legs, batches, failed) == (before[0], before[1], before[2] + 1)
    check = run_tbot("ledger", "check", home=home_paths.root)
    assert check.returncode == 0, check.stdout
    tail = run_tbot("audit", "tail", "--category", "ledger_batch", home=home_paths.root)
    assert "batch_rolled_back" in tail.stdout and "batch_committed" in tail.stdout
