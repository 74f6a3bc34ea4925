"""Small generated market data in which each filter has something to block (tests/.../test_filters_bite.py).

Each series is one NYSE winter session of 1-minute bars (14:30-21:00 UTC) per
day, shaped for one strategy's rule and one filter's judgement:

* ``staircase``: 30 bars down, 15 flat, again and again.  Each resumed fall is a
  mid-session buy (stretched below its mean) inside a strong trend (ADX ~100),
  with the close below the lower Bollinger band: the ADX filter blocks it, the
  confluence filter does not.  Several buys per session: the blocklist has seconds to refuse.
* ``wave``: a slow sine with tiny bar ranges.  Mid-session buys come with the
  close above the lower band (Bollinger blocks) in a mild trend.
* ``breakout``: flat through the opening range, then a step up: one opening-range buy per session.
* ``climb``: a steady rise, so at the close window the close is above the session open and VWAP: a close-strategy buy.
"""

from __future__ import annotations

import csv
import math
from collections.abc import Callable, Iterable
from datetime import datetime, timedelta

from tbot_core.paths import HomePaths

DAYS = ("2026-01-05", "2026-01-06")  # winter: the session is 14:30-21:00 UTC
SESSION_BARS = 390
Row = tuple[str, str, float, float, float, float, float]


def staircase(start: float = 100.0) -> list[float]:
    closes, price = [], start
    for i in range(SESSION_BARS):
        if i < 360 and i % 45 < 30:
            price -= 0.1
        closes.append(round(price, 4))
    return closes


def wave(start: float = 100.0) -> list[float]:
    return [round(start + math.sin(2 * math.pi * i / 60), 4) for i in range(SESSION_BARS)]


def breakout(start: float = 100.0) -> list[float]:
    return [start if i < 45 else start + 1.0 for i in range(SESSION_BARS)]


def climb(start: float = 100.0) -> list[float]:
    return [round(start + 0.01 * i, 4) for i in range(SESSION_BARS)]


def session_rows(symbol: str, day: str, closes: list[float], spread: float) -> list[Row]:
    first = datetime.fromisoformat(f"{day}T14:30:00+00:00")
    rows, previous = [], closes[0]
    for i, close in enumerate(closes):
        stamp = (first + timedelta(minutes=i)).strftime("%Y-%m-%dT%H:%M:%SZ")
        high, low = max(previous, close) + spread, min(previous, close) - spread
        rows.append((stamp, symbol, previous, high, low, close, 1000.0))
        previous = close
    return rows


def write_home_data(
    paths: HomePaths,
    shapes: dict[str, Callable[[], list[float]]],
    *,
    vix: dict[str, float] | None = None,
    spread: float = 0.05,
    fundamentals: Iterable[tuple[str, str, str, str, str]] = (),
) -> None:
    """The home's sample bars (every symbol, every day), its VIX (one level per day) and optionally fundamentals."""
    rows = [
        row for day in DAYS for symbol, shape in shapes.items() for row in session_rows(symbol, day, shape(), spread)
    ]
    rows.sort(key=lambda row: (row[0], row[1]))
    with open(paths.sample_ohlcv, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(("timestamp_utc", "symbol", "open", "high", "low", "close", "volume"))
        out.writerows(rows)
    levels = vix or {day: 20.0 for day in DAYS}
    with open(paths.sample_vix, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(("timestamp_utc", "vix"))
        out.writerows((f"{day}T14:30:00Z", level) for day, level in sorted(levels.items()))
    facts = list(fundamentals)
    if facts:
        with open(paths.fundamentals_history, "w", newline="", encoding="utf-8") as handle:
            out = csv.writer(handle, lineterminator="\n")
            out.writerow(("date", "symbol", "pe", "debt_equity", "market_cap"))
            out.writerows(facts)
