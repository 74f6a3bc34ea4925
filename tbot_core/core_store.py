"""``db/core.db``: engine state that must survive a restart (or a SIGKILL).

The paper account (cash, positions, orders, fills), the kill switch, the
start-of-day equity and the replay cursor live here.  Money is integer cents;
share quantities are whole shares.  A fill changes cash, position, order, fill
row and replay cursor in ONE transaction, so a process killed at any instant
leaves either all of it or none of it.  Fills carry a ``ledger_posted`` flag:
the engine posts them to the ledger by fitid (idempotent there) and marks them
afterwards, so a crash between the two only causes a harmless re-post.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import apsw

from tbot_core.db import connect, durable
from tbot_core.errors import IntegrityError
from tbot_core.money import from_cents, to_cents
from tbot_core.timeutil import UtcTime

SCHEMA_VERSION = 1

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS paper_account (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    cash_cents INTEGER NOT NULL,
    opening_cash_cents INTEGER NOT NULL CHECK (opening_cash_cents > 0),
    opened_utc TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS paper_positions (
    symbol TEXT PRIMARY KEY,
    qty INTEGER NOT NULL CHECK (qty > 0),
    cost_cents INTEGER NOT NULL,
    strategy TEXT NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS paper_orders (
    order_id TEXT PRIMARY KEY,
    client_order_id TEXT NOT NULL UNIQUE,
    symbol TEXT NOT NULL,
    side TEXT NOT NULL CHECK (side IN ('buy', 'sell')),
    qty INTEGER NOT NULL CHECK (qty > 0),
    limit_cents INTEGER,
    status TEXT NOT NULL,
    submitted_utc TEXT NOT NULL,
    bar_utc TEXT NOT NULL,
    strategy TEXT NOT NULL,
    filled_qty INTEGER NOT NULL DEFAULT 0,
    filled_avg_cents INTEGER
) STRICT;
CREATE TABLE IF NOT EXISTS paper_fills (
    fitid TEXT PRIMARY KEY,
    order_id TEXT NOT NULL REFERENCES paper_orders(order_id),
    symbol TEXT NOT NULL,
    side TEXT NOT NULL,
    qty INTEGER NOT NULL CHECK (qty > 0),
    price_cents INTEGER NOT NULL CHECK (price_cents > 0),
    fee_cents INTEGER NOT NULL CHECK (fee_cents >= 0),
    timestamp_utc TEXT NOT NULL,
    strategy TEXT NOT NULL,
    ledger_posted INTEGER NOT NULL DEFAULT 0
) STRICT;
CREATE TABLE IF NOT EXISTS marks (
    symbol TEXT PRIMARY KEY,
    price_cents INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS kill_switch (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    state TEXT NOT NULL CHECK (state IN ('armed', 'triggered')),
    since_utc TEXT,
    cause TEXT,
    bar_utc TEXT
) STRICT;
CREATE TABLE IF NOT EXISTS day_start (
    day TEXT PRIMARY KEY,
    equity_cents INTEGER NOT NULL
) STRICT;
CREATE TABLE IF NOT EXISTS engine_cursor (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    last_bar_utc TEXT,
    bars INTEGER NOT NULL DEFAULT 0
) STRICT;
INSERT OR IGNORE INTO kill_switch (id, state) VALUES (1, 'armed');
INSERT OR IGNORE INTO engine_cursor (id, bars) VALUES (1, 0);
PRAGMA user_version = {SCHEMA_VERSION};
"""


@dataclass(frozen=True)
class KillState:
    state: str
    since_utc: UtcTime | None
    cause: str | None
    bar_utc: str | None

    @property
    def triggered(self) -> bool:
        return self.state == "triggered"


class CoreStore:
    """One connection to ``core.db``, shared by the engine and watchdog threads behind a lock."""

    def __init__(self, path: Path) -> None:
        self.path = path
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self.conn = connect(path)
            with self.conn:
                self.conn.execute(SCHEMA)
        except apsw.Error as exc:
            raise IntegrityError(f"{path.name}: cannot open the core database ({type(exc).__name__})") from None
        self.lock = threading.RLock()

    def close(self) -> None:
        self.conn.close()

    def transaction(self) -> _Txn:
        return _Txn(self)

    def query(self, sql: str, args: tuple = ()) -> list[tuple]:
        with self.lock:
            return self.conn.execute(sql, args).fetchall()

    def one(self, sql: str, args: tuple = ()) -> tuple | None:
        rows = self.query(sql, args)
        return rows[0] if rows else None

    # -- kill switch ---------------------------------------------------------------------
    def kill_state(self) -> KillState:
        row = self.one("SELECT state, since_utc, cause, bar_utc FROM kill_switch WHERE id = 1")
        if row is None:
            raise IntegrityError("core.db: kill_switch row missing")
        return KillState(*row)

    def set_kill_state(self, state: str, since_utc: str | None, cause: str | None, bar_utc: str | None) -> None:
        with self.lock, durable(self.conn), self.transaction() as conn:
            conn.execute(
                "UPDATE kill_switch SET state = ?, since_utc = ?, cause = ?, bar_utc = ? WHERE id = 1",
                (state, since_utc, cause, bar_utc),
            )

    # -- day start -----------------------------------------------------------------------
    def day_start_equity(self, day: str) -> Decimal | None:
        row = self.one("SELECT equity_cents FROM day_start WHERE day = ?", (day,))
        return None if row is None else from_cents(row[0])

    def set_day_start_equity(self, day: str, equity: Decimal) -> None:
        with self.transaction() as conn:
            conn.execute("INSERT OR IGNORE INTO day_start (day, equity_cents) VALUES (?, ?)", (day, to_cents(equity)))

    # -- replay cursor -------------------------------------------------------------------
    def cursor(self) -> tuple[str | None, int]:
        row = self.one("SELECT last_bar_utc, bars FROM engine_cursor WHERE id = 1")
        return (row[0], int(row[1])) if row else (None, 0)

    def save_cursor(self, conn: apsw.Connection, last_bar_utc: str, bars: int, marks: dict[str, int]) -> None:
        conn.execute("UPDATE engine_cursor SET last_bar_utc = ?, bars = ? WHERE id = 1", (last_bar_utc, bars))
        conn.executemany(
            "INSERT INTO marks (symbol, price_cents) VALUES (?, ?) "
            "ON CONFLICT(symbol) DO UPDATE SET price_cents = excluded.price_cents",
            list(marks.items()),
        )

    def marks(self) -> dict[str, int]:
        return {sym: cents for sym, cents in self.query("SELECT symbol, price_cents FROM marks")}

    # -- fills waiting for the ledger ---------------------------------------------------------
    def unposted_fills(self) -> list[tuple]:
        return self.query(
            "SELECT fitid, order_id, symbol, side, qty, price_cents, fee_cents, timestamp_utc, strategy "
            "FROM paper_fills WHERE ledger_posted = 0 ORDER BY rowid"
        )

    def mark_posted(self, fitids: list[str]) -> None:
        with self.transaction() as conn:
            conn.executemany("UPDATE paper_fills SET ledger_posted = 1 WHERE fitid = ?", [(f,) for f in fitids])


class _Txn:
    """``with store.transaction() as conn:`` — BEGIN IMMEDIATE ... COMMIT, or ROLLBACK on any error."""

    def __init__(self, store: CoreStore) -> None:
        self.store = store

    def __enter__(self) -> apsw.Connection:
        self.store.lock.acquire()
        try:
            self.store.conn.execute("BEGIN IMMEDIATE")
        except BaseException:
            self.store.lock.release()
            raise
        return self.store.conn

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        conn = self.store.conn
        try:
            if exc_type is None:
                conn.execute("COMMIT")
            elif not conn.get_autocommit():
                conn.execute("ROLLBACK")
        finally:
            self.store.lock.release()
