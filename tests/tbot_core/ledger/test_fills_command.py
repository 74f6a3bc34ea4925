"""``tbot ledger fills``: the books' fills read back through the real CLI.

The main case is a home whose ledger was written by a real ``tbot core`` replaying the sample data:
every row must equal the paper broker's own record in core.db.  The rest use ``tbot ledger sync``
exports to reach what the paper broker never produces (sub-cent prices, a reversal, a remapped
fee account) and the one-line errors.
"""

from __future__ import annotations

import csv
import io
import os
from pathlib import Path

import pytest

from tbot_core.money import fmt_cents
from tbot_core.paths import HomePaths
from tests.conftest import run_tbot
from tests.tbot_core.ledger.sample_core import fresh_home, paper_fills, run_core_over_sample

COLUMNS = ["fitid", "time_utc", "symbol", "side", "qty", "price", "fee", "strategy"]


@pytest.fixture(scope="module")
def core_home(tmp_path_factory: pytest.TempPathFactory) -> HomePaths:
    paths = fresh_home(tmp_path_factory.mktemp("fills") / "home")
    run_core_over_sample(paths)
    return paths


def _fills_csv(home: Path) -> list[dict[str, str]]:
    result = run_tbot("ledger", "fills", "--csv", home=home)
    assert result.returncode == 0, result.stderr
    reader = csv.DictReader(io.StringIO(result.stdout))
    assert reader.fieldnames == COLUMNS
    return list(reader)


def _databases(paths: HomePaths) -> dict[str, tuple[bytes, int]]:
    """The databases' main files with their bytes and mtimes, and the bytes of any -wal beside them.

    A WAL-mode reader may create an empty -wal and the -shm index beside a database (SQLite's
    locking, not data), so those two are not compared by their mere presence or mtime.
    """
    out = {}
    for name in ("ledger.db", "core.db"):
        path = paths.db_dir / name
        out[name] = (path.read_bytes(), path.stat().st_mtime_ns)
        wal = paths.db_dir / f"{name}-wal"
        out[wal.name] = (wal.read_bytes() if wal.exists() else b"", 0)
    return out


def test_every_fill_the_core_booked_reads_back_as_core_db_holds_it_without_writing(core_home):
    expected = paper_fills(core_home)
    assert len(expected) >= 10 and {r[2] for r in expected} == {"buy", "sell"}
    before = _databases(core_home)
    rows = _fills_csv(core_home.root)
    assert _databases(core_home) == before  # read-only: not a byte nor an mtime of either database changed
    assert [(r["fitid"], r["symbol"], r["side"], r["qty"], r["price"], r["fee"], r["strategy"]) for r in rows] == [
        (fitid, symbol, side, str(qty), fmt_cents(price), fmt_cents(fee), strategy)
        for fitid, symbol, side, qty, price, fee, _ts, strategy in expected
    ]
    assert [r["time_utc"] for r in rows] == [r[6] for r in expected]
    assert [r["time_utc"] for r in rows] == sorted(r["time_utc"] for r in rows)  # oldest first


def test_the_plain_output_is_an_aligned_table_of_the_same_rows(core_home):
    result = run_tbot("ledger", "fills", home=core_home.root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == COLUMNS and set(lines[1].replace(" ", "")) == {"-"}
    rows = _fills_csv(core_home.root)
    assert len(lines) == 2 + len(rows)
    starts = [0] + [i for i, ch in enumerate(lines[1]) if ch == "-" and lines[1][i - 1] == " "]
    assert len(starts) == len(COLUMNS)  # each column starts where its run of dashes does
    for line, row in zip(lines[2:], rows):
        assert [line[s:].split()[0] for s in starts] == [row[c] for c in COLUMNS]


def test_without_core_db_the_strategy_is_left_empty(core_home, tmp_path):
    copy = tmp_path / "home"
    copy.mkdir()
    (copy / "db").mkdir()
    for name in os.listdir(core_home.db_dir):
        if name.startswith("ledger.db"):
            (copy / "db" / name).write_bytes((core_home.db_dir / name).read_bytes())
    rows = _fills_csv(copy)
    assert rows and all(r["strategy"] == "" for r in rows)
    assert [r["fitid"] for r in rows] == [r["fitid"] for r in _fills_csv(core_home.root)]


def _sync(home: Path, name: str, lines: list[str]) -> None:
    export = home.parent / name
    export.write_text("fitid,type,symbol,side,qty,price,amount,fee,timestamp_utc\n" + "\n".join(lines) + "\n")
    result = run_tbot("ledger", "sync", "--broker", "ALPACA", "--file", str(export), home=home)
    assert result.returncode == 0, result.stderr


def test_sub_cent_prices_reversals_and_a_remapped_fee_account_read_back(home_paths):
    home = home_paths.root
    _sync(
        home,
        "day1.csv",
        [
            "D1,TRANSFER,,,0,0,100000,0,2026-01-05T14:00:00Z",
            "B1,FILL,ABC,buy,3,10.005,-30.015,0.35,2026-01-05T14:31:00Z",  # gross 30.02 booked: 10.006667/share
            "B2,FILL,XYZ,buy,0.5,100.01,-50.005,0,2026-01-05T14:32:00Z",  # fractional qty, no fee leg
            "S1,FILL,ABC,sell,2,12.50,25.00,1.25,2026-01-05T14:40:00Z",
            "S2,FILL,ABC,sell,1,12.25,12.25,0,2026-01-05T14:41:00Z",
        ],
    )
    steps = [
        ("ledger", "coa", "add-account", "5101", "--name", "Broker fees", "--kind", "expense", "--reason", "split"),
        ("ledger", "coa", "remap", "fees", "5101", "--reason", "split fees"),
    ]
    for step in steps:
        assert run_tbot(*step, home=home).returncode == 0
    _sync(home, "day2.csv", ["B3,FILL,ABC,buy,4,20,-80,2.50,2026-01-06T14:31:00Z"])
    groups = {r["fitid"]: r for r in _fills_csv(home)}
    assert list(groups) == ["B1", "B2", "S1", "S2", "B3"]
    got = {k: (r["side"], r["qty"], r["price"], r["fee"], r["strategy"]) for k, r in groups.items()}
    assert got == {
        "B1": ("buy", "3", "10.006667", "0.35", ""),
        "B2": ("buy", "0.5", "100.00", "0.00", ""),  # 50.005 is booked half-even as 50.00: the cents per share
        "S1": ("sell", "2", "12.50", "1.25", ""),
        "S2": ("sell", "1", "12.25", "0.00", ""),
        "B3": ("buy", "4", "20.00", "2.50", ""),  # the fee on the remapped account is found
    }
    assert groups["B1"]["time_utc"] == "2026-01-05T14:31:00.000000Z"
    # A reversed fill is no longer one the books hold.
    fill_group = _group_of(home_paths, "S2")
    assert run_tbot("ledger", "reverse", str(fill_group), "--reason", "wrong", home=home).returncode == 0
    assert [r["fitid"] for r in _fills_csv(home)] == ["B1", "B2", "S1", "B3"]


def _group_of(paths: HomePaths, fitid: str) -> int:
    import apsw

    conn = apsw.Connection(str(paths.ledger_db), flags=apsw.SQLITE_OPEN_READONLY)
    try:
        return int(conn.execute("SELECT group_id FROM groups WHERE fitid = ?", (fitid,)).fetchone()[0])
    finally:
        conn.close()


def test_an_empty_ledger_prints_only_the_header(home_paths):
    assert _fills_csv(home_paths.root) == []


def test_a_missing_ledger_is_one_line_naming_the_file(home_paths):
    home_paths.ledger_db.unlink()
    result = run_tbot("ledger", "fills", home=home_paths.root)
    assert result.returncode != 0 and result.stdout == ""
    assert result.stderr.startswith("error: ") and "ledger.db" in result.stderr and "not found" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert not home_paths.ledger_db.exists()  # and it was not created


def test_an_unreadable_ledger_is_one_line_naming_the_file(home_paths):
    for suffix in ("-wal", "-shm"):
        Path(f"{home_paths.ledger_db}{suffix}").unlink(missing_ok=True)
    home_paths.ledger_db.write_bytes(b"not a database at all " * 100)
    result = run_tbot("ledger", "fills", "--csv", home=home_paths.root)
    assert result.returncode != 0 and result.stdout == "" and "Traceback" not in result.stderr
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and str(home_paths.ledger_db) in errors[0], result.stderr
