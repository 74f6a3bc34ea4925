"""Builders shared by the ledger tests: balanced groups, activities and export files."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

import apsw

from tbot_core.ledger.activity import Activity
from tbot_core.ledger.coa import DEFAULT_COA_BATCH, default_coa
from tbot_core.ledger.posting import GroupSpec
from tbot_core.ledger.schema import create_schema

T0 = datetime(2025, 1, 2, 14, 30, tzinfo=UTC)
EFFECTIVE = "2025-01-02T14:30:00.000000Z"


def fresh_ledger(folder: Path, name: str = "ledger.db") -> Path:
    path = folder / name
    create_schema(path)
    return path


def balanced_groups(n_groups: int, legs_per_group: int = 2, *, start: int = 0) -> list[GroupSpec]:
    """``n_groups`` balanced groups: one credit to cash against debits spread over fees and securities."""
    out = []
    for i in range(start, start + n_groups):
        debits = [("5100" if k % 2 else "1100", 100 + k, 0) for k in range(legs_per_group - 1)]
        total = sum(d for _, d, _ in debits)
        out.append(GroupSpec("POSTING", EFFECTIVE, f"test group {i}", [*debits, ("1000", 0, total)]))
    return out


def fill(
    fitid: str, side: str, qty: str, price: str, *, fee: str = "1", minutes: int = 0, symbol: str = "AAPL"
) -> Activity:
    q, p = Decimal(qty), Decimal(price)
    amount = -(q * p) if side == "buy" else q * p
    return Activity(fitid, "FILL", symbol, side, q, p, amount, Decimal(fee), T0 + timedelta(minutes=minutes))


def cash(fitid: str, kind: str, amount: str, *, minutes: int = 0, symbol: str = "") -> Activity:
    return Activity(
        fitid, kind, symbol, "", Decimal(0), Decimal(0), Decimal(amount), Decimal(0), T0 + timedelta(minutes=minutes)
    )


def trading_day(prefix: str, n_pairs: int, *, offset: int = 0) -> list[Activity]:
    """A deposit, then ``n_pairs`` buy/sell round trips (3 + 4 legs each)."""
    acts = [cash(f"{prefix}-dep", "TRANSFER", "1000000", minutes=offset)]
    for i in range(n_pairs):
        acts.append(fill(f"{prefix}-b{i}", "buy", "10", "100.10", minutes=offset + 2 * i + 1))
        acts.append(fill(f"{prefix}-s{i}", "sell", "10", "101.25", minutes=offset + 2 * i + 2))
    return acts


def activity_record(act: Activity) -> dict[str, str]:
    return {
        "fitid": act.fitid,
        "type": act.type,
        "symbol": act.symbol,
        "side": act.side,
        "qty": str(act.qty),
        "price": str(act.price),
        "amount": str(act.amount),
        "fee": str(act.fee),
        "timestamp_utc": act.timestamp_utc.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }


def write_jsonl(path: Path, activities: list[Activity]) -> Path:
    path.write_text("".join(json.dumps(activity_record(a)) + "\n" for a in activities), encoding="utf-8")
    return path


def write_csv(path: Path, activities: list[Activity]) -> Path:
    fields = ["fitid", "type", "symbol", "side", "qty", "price", "amount", "fee", "timestamp_utc"]
    lines = [",".join(fields)] + [",".join(activity_record(a)[f] for f in fields) for a in activities]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def open_old_ledger(path: Path, schema: Path, version: int, seal_sql: str, *seal_tail: int) -> apsw.Connection:
    """A ledger file in an older schema with the default chart of accounts committed: what migrate starts from."""
    conn = apsw.Connection(str(path))
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA foreign_keys=ON")
    conn.execute(schema.read_text(encoding="utf-8"))
    conn.execute(f"PRAGMA user_version = {version}")
    coa = default_coa()
    with conn:
        conn.executemany(
            "INSERT INTO accounts VALUES (?,?,?,?)", [(*account, DEFAULT_COA_BATCH) for account in coa.accounts]
        )
        conn.executemany(
            "INSERT INTO coa_mapping (role, account_code, batch_id) VALUES (?,?,?)",
            [(role, code, DEFAULT_COA_BATCH) for role, code in coa.roles.items()],
        )
        conn.execute(
            seal_sql,
            (DEFAULT_COA_BATCH, None, None, "coa", "default chart of accounts", EFFECTIVE, EFFECTIVE, *seal_tail),
        )
    return conn
