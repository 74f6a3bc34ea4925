"""``tbot ledger fills [--csv]``: the fills the books hold, one row each, oldest first.

Columns: fitid, time (UTC), symbol, side, qty, price, fee, strategy.  Side,
qty, price and fee are read back from each FILL group's legs, lots and lot
reliefs (``tbot_core/ledger/fills.py`` says how, and how the price is shown);
reversed fills are left out.  The ledger does not store a strategy: it is
taken from the bot's own records, the paper broker's fills in ``db/core.db``
(by fitid, read-only), and left empty for any fill they do not hold (a real
broker's fills, or a home without core.db).

Read-only: both databases are opened read-only and no row or page is written
(SQLite's WAL mode may leave the empty ``-wal``/``-shm`` side files a reader
needs beside them).  A
missing or unreadable ledger is one ``error:`` line naming the file.
"""

from __future__ import annotations

import argparse
import csv
import sys
from pathlib import Path

import apsw

from tbot_core.brokers.paper import PaperBroker
from tbot_core.cli.common import table
from tbot_core.db import connect
from tbot_core.errors import TbotError
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.fills import LedgerFill, ledger_fills
from tbot_core.money import canonical, fmt_cents
from tbot_core.paths import HomePaths

COLUMNS = ("fitid", "time_utc", "symbol", "side", "qty", "price", "fee", "strategy")
HELP = (
    "the fills the books hold, oldest first (fitid, time, symbol, side, qty, price, fee, strategy); "
    "read-only. The ledger stores no strategy: it comes from core.db's paper fills, empty otherwise"
)


def add_options(parser: argparse.ArgumentParser) -> None:
    parser.description = __doc__.split("\n\n")[1].replace("\n", " ") if __doc__ else None
    parser.add_argument("--csv", action="store_true", help="CSV with a header row to stdout instead of a table")


def read_fills(ledger_db: Path) -> list[LedgerFill]:
    if not ledger_db.exists():
        raise TbotError(f"{ledger_db}: ledger database not found", hint="run `tbot init` first")
    try:
        conn = open_ledger(ledger_db, readonly=True)
    except TbotError:
        raise TbotError(f"{ledger_db}: cannot open the ledger database read-only") from None
    try:
        return ledger_fills(conn)
    except apsw.Error as exc:
        raise TbotError(f"{ledger_db}: cannot read the ledger ({type(exc).__name__}: {exc})") from None
    finally:
        conn.close()


def paper_strategies(core_db: Path) -> dict[str, str]:
    """fitid -> strategy from the paper broker's fills in core.db; {} when there is no core.db to read."""
    if not core_db.exists():
        return {}
    try:
        conn = connect(core_db, readonly=True)
        try:
            return {
                str(fitid): str(strategy) for fitid, strategy in conn.execute("SELECT fitid, strategy FROM paper_fills")
            }
        finally:
            conn.close()
    except apsw.Error as exc:
        print(f"note: {core_db}: strategies unavailable ({type(exc).__name__}); column left empty", file=sys.stderr)
        return {}


def fill_rows(fills: list[LedgerFill], strategies: dict[str, str]) -> list[tuple[str, ...]]:
    return [
        (
            f.fitid,
            f.time_utc,
            f.symbol,
            f.side,
            canonical(f.qty),
            f.price_text(),
            fmt_cents(f.fee_cents),
            strategies.get(f.fitid, "") if f.broker_code == PaperBroker.code else "",
        )
        for f in fills
    ]


def cmd_fills(args: argparse.Namespace) -> int:
    paths = HomePaths(getattr(args, "home", None))  # no BotHome: nothing here needs the vault
    rows = fill_rows(read_fills(paths.ledger_db), paper_strategies(paths.core_db))
    if args.csv:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(COLUMNS)
        writer.writerows(rows)
    else:
        print(table(COLUMNS, rows))
    return 0
