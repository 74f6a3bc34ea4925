"""Point-in-time fundamentals for the live-engine backtest, from ``data/market/fundamentals.csv``.

Live, ``finnhub_fundamental_guard`` asks Finnhub for today's figures; a
backtest that did the same would judge 2024 trades with 2026 numbers (look-ahead)
and would open a network connection.  Instead the guard is handed this source:
a row dated D is what was known from UTC day D on, so a signal on day T sees, per
symbol, the latest row dated on or before T.  No row yet means "unavailable", and
the guard blocks as it does live (fail closed).

File format (header required, one row per symbol and date, any order)::

    date,symbol,pe,debt_equity,market_cap
    2026-01-02,AAPL,31.2,1.45,3450000000000

``market_cap`` is in USD (not millions); an empty ``pe``/``debt_equity``/
``market_cap`` means the figure was not published (the guard blocks on it).
Every problem is one line naming the file, the line and the field.
"""

from __future__ import annotations

import bisect
import csv
import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import date
from pathlib import Path

from tbot_core.errors import ConfigError, TbotError

FIELDS = ("date", "symbol", "pe", "debt_equity", "market_cap")


@dataclass(frozen=True, slots=True)
class DatedFundamentals:
    """The shape the guard reads (``FinnhubFundamentals.lookup`` returns the same fields)."""

    symbol: str
    pe: float | None
    debt_equity: float | None
    market_cap_usd: float | None
    as_of: str


def _number(text: str, where: str, field: str) -> float | None:
    text = text.strip()
    if not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ConfigError(f"{where}: field '{field}': expected a number or empty, got {text[:20]!r}") from None
    if not math.isfinite(value):
        raise ConfigError(f"{where}: field '{field}': expected a finite number, got {text[:20]!r}")
    if field == "market_cap" and value < 0:
        raise ConfigError(f"{where}: field 'market_cap': expected USD >= 0, got {text[:20]!r}")
    return value


def load_fundamentals(path: Path) -> dict[str, tuple[list[str], list[DatedFundamentals]]]:
    """Per symbol: the sorted ISO dates and the row of each (validated; raises a one-line ``ConfigError``)."""
    name = f"data/market/{path.name}"
    try:
        handle = open(path, newline="", encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"{name}: cannot read ({type(exc).__name__})") from None
    rows: dict[str, dict[str, DatedFundamentals]] = {}
    with handle:
        try:
            reader = csv.reader(handle)
            header = next(reader, None)
            if header is None or tuple(h.strip().lower() for h in header) != FIELDS:
                raise ConfigError(f"{name}:1: expected header {','.join(FIELDS)}")
            for line, row in enumerate(reader, start=2):
                if not row or not "".join(row).strip():
                    continue
                where = f"{name}:{line}"
                if len(row) != len(FIELDS):
                    raise ConfigError(f"{where}: expected {len(FIELDS)} fields, got {len(row)}")
                try:
                    day = date.fromisoformat(row[0].strip()).isoformat()
                except ValueError:
                    raise ConfigError(f"{where}: field 'date': expected YYYY-MM-DD, got {row[0][:20]!r}") from None
                symbol = row[1].strip().upper()
                if not symbol:
                    raise ConfigError(f"{where}: field 'symbol': empty")
                if day in rows.setdefault(symbol, {}):
                    raise ConfigError(f"{where}: field 'date': second row for {symbol} on {day}")
                rows[symbol][day] = DatedFundamentals(
                    symbol,
                    _number(row[2], where, "pe"),
                    _number(row[3], where, "debt_equity"),
                    _number(row[4], where, "market_cap"),
                    day,
                )
        except UnicodeDecodeError:
            raise ConfigError(f"{name}: not UTF-8 text") from None
        except csv.Error as exc:
            raise ConfigError(f"{name}: not a well-formed CSV ({exc})") from None
    return {symbol: (sorted(by_day), [by_day[d] for d in sorted(by_day)]) for symbol, by_day in rows.items()}


class PointInTimeFundamentals:
    """What ``finnhub_fundamental_guard`` calls ``lookup(symbol)`` on, answering as of the bar being replayed.

    ``today`` returns the UTC day (ISO text) of the bar the engine is on; the
    backtest binds it to the replay feed once the feed exists.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self.table = load_fundamentals(path)
        self.today: Callable[[], str | None] = lambda: None

    def require_credentials(self) -> None:
        """No secret needed: the figures come from the file (the guard's self-check asks)."""

    def lookup(self, symbol: str) -> DatedFundamentals:
        today = self.today()
        if today is None:
            raise TbotError("no bar replayed yet: no point in time to read fundamentals at")
        dates, facts = self.table.get(symbol, ([], []))
        i = bisect.bisect_right(dates, today[:10])
        if i == 0:
            raise TbotError(f"{self.path.name} has no row for {symbol} dated on or before {today[:10]}")
        return facts[i - 1]
