"""Loading backtest bars from CSV, refusing anything that would make the results lie.

Every problem is reported as one line naming the file, the line and the
column, before any output is written: a backtest on silently repaired data is
worse than no backtest.  Naive timestamps are read as UTC (all times are UTC).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path

import numpy as np
import pandas as pd

from tbot_core.errors import ConfigError, LogicError

PRICE_COLUMNS = ("open", "high", "low", "close")
REQUIRED = (*PRICE_COLUMNS, "volume")
TIME_COLUMNS = ("timestamp_utc", "timestamp", "datetime", "date")
DEFAULT_SYMBOL = "SYMBOL"


class DataError(ConfigError):
    """A backtest input file that cannot be used as it is."""


@dataclass(frozen=True)
class SymbolBars:
    """One symbol's bars as contiguous arrays (the hot loops index these, not the frame)."""

    symbol: str
    ts: np.ndarray  # datetime64[ns], UTC
    open: np.ndarray
    high: np.ndarray
    low: np.ndarray
    close: np.ndarray
    volume: np.ndarray
    vix: np.ndarray | None = None

    def __len__(self) -> int:
        return len(self.ts)

    def indices_of(self, moments: list[datetime]) -> list[int]:
        """For each time, the bar at or before it (the bar whose close produced a signal)."""
        if not moments:
            return []
        keys = pd.DatetimeIndex(moments).tz_convert("UTC").tz_localize(None).to_numpy(dtype="datetime64[ns]")
        found = np.searchsorted(self.ts, keys, side="right") - 1
        if (found < 0).any():
            raise LogicError(f"{self.symbol}: a signal precedes the first bar")
        return found.tolist()

    def frame(self) -> pd.DataFrame:
        """The frame shape strategies' ``simulate()`` takes."""
        data = {
            "ts": pd.DatetimeIndex(self.ts, tz="UTC"),
            "open": self.open,
            "high": self.high,
            "low": self.low,
            "close": self.close,
            "volume": self.volume,
        }
        if self.vix is not None:
            data["vix"] = self.vix
        return pd.DataFrame(data)


def bar_times(bars: dict[str, SymbolBars]) -> np.ndarray:
    """Every bar time of any symbol, sorted and unique (sorting then dropping repeats: hashing a million
    timestamps, as ``np.unique`` does, is several times slower)."""
    symbols = sorted(bars)
    if len(symbols) == 1:
        return bars[symbols[0]].ts
    merged = np.sort(np.concatenate([bars[s].ts for s in symbols]))
    return merged[np.r_[True, merged[1:] != merged[:-1]]]


def latest_bar(ts: np.ndarray, timeline: np.ndarray) -> np.ndarray:
    """For each time of ``timeline`` (sorted, holding every time of ``ts``), the index of ``ts``'s latest bar at
    or before it (-1 before the first): ``searchsorted(ts, timeline, "right") - 1``, in one linear pass."""
    marks = np.zeros(len(timeline), dtype=np.int64)
    marks[np.searchsorted(timeline, ts)] = 1
    return np.cumsum(marks) - 1


def _fail(source: str, line: int | None, column: str | None, problem: str) -> DataError:
    where = f"{source}:{line}" if line is not None else source
    col = f": column '{column}'" if column else ""
    return DataError(f"{where}{col}: {problem}")


def read_bars_csv(path: Path, *, start: date | None = None, end: date | None = None) -> dict[str, SymbolBars]:
    """Bars per symbol between ``start`` and ``end`` (inclusive UTC dates)."""
    source = path.name
    try:
        raw = pd.read_csv(path, dtype=str, keep_default_na=False, engine="c")
    except FileNotFoundError:
        raise DataError(f"{source}: file not found") from None
    except (pd.errors.EmptyDataError, UnicodeDecodeError):
        raise DataError(f"{source}: empty or not UTF-8 text; expected a CSV with a header line") from None
    except pd.errors.ParserError as exc:
        raise DataError(f"{source}: not a well-formed CSV ({str(exc).splitlines()[0][:120]})") from None
    return bars_from_frame(raw, source=source, start=start, end=end)


def bars_from_frame(
    raw: pd.DataFrame, *, source: str, start: date | None = None, end: date | None = None
) -> dict[str, SymbolBars]:
    """Validate a string-typed frame (as read from CSV) and split it per symbol."""
    columns = {str(c).strip().lower(): c for c in raw.columns}
    time_col = next((columns[c] for c in TIME_COLUMNS if c in columns), None)
    missing = [c for c in REQUIRED if c not in columns]
    if time_col is None:
        missing.insert(0, "timestamp_utc")
    if missing:
        raise _fail(
            source,
            None,
            None,
            f"missing column '{missing[0]}' (expected timestamp_utc, open, high, low, close, volume"
            "; optional symbol, vix)",
        )
    if raw.empty:
        raise _fail(source, None, None, "no data rows after the header")
    lines = np.arange(2, len(raw) + 2)  # line 1 is the header

    ts = pd.to_datetime(raw[time_col], utc=True, errors="coerce", format="ISO8601")
    bad = ts.isna().to_numpy()
    if bad.any():
        i = int(np.argmax(bad))
        raise _fail(
            source, int(lines[i]), str(time_col), f"cannot parse {str(raw[time_col].iloc[i])[:40]!r} as a UTC time"
        )

    numeric: dict[str, np.ndarray] = {}
    for name in (*REQUIRED, "vix"):
        if name not in columns:
            continue
        col = columns[name]
        values = pd.to_numeric(raw[col].str.strip(), errors="coerce").to_numpy(dtype=np.float64)
        bad = ~np.isfinite(values)
        if bad.any():
            i = int(np.argmax(bad))
            raise _fail(source, int(lines[i]), name, f"missing or not a number ({str(raw[col].iloc[i])[:20]!r})")
        positive_required = name in PRICE_COLUMNS or name == "vix"
        bad = values <= 0 if positive_required else values < 0
        if bad.any():
            i = int(np.argmax(bad))
            expected = (
                "a positive price"
                if name in PRICE_COLUMNS
                else "a positive level"
                if name == "vix"
                else "a non-negative volume"
            )
            raise _fail(source, int(lines[i]), name, f"expected {expected}, got {values[i]:g}")
        numeric[name] = values
    high, low = numeric["high"], numeric["low"]
    bad = (
        (high < low)
        | (high < numeric["open"])
        | (high < numeric["close"])
        | (low > numeric["open"])
        | (low > numeric["close"])
    )
    if bad.any():
        i = int(np.argmax(bad))
        raise _fail(source, int(lines[i]), "high", "high/low do not bracket open and close")

    symbols = raw[columns["symbol"]].str.strip().str.upper().to_numpy() if "symbol" in columns else None
    ts_ns = ts.to_numpy(dtype="datetime64[ns]")
    result: dict[str, SymbolBars] = {}
    groups = (
        {DEFAULT_SYMBOL: np.arange(len(raw))}
        if symbols is None
        else pd.Series(np.arange(len(raw))).groupby(symbols).indices
    )
    for symbol, idx in sorted(groups.items()):
        idx = np.asarray(idx)
        if not symbol:
            raise _fail(source, int(lines[idx[0]]), "symbol", "empty symbol")
        sym_ts = ts_ns[idx]
        steps = np.diff(sym_ts.astype(np.int64))
        if (steps <= 0).any():
            j = int(np.argmax(steps <= 0)) + 1
            problem = (
                "duplicate timestamp"
                if steps[j - 1] == 0
                else "timestamp earlier than the previous row (rows must be sorted)"
            )
            raise _fail(source, int(lines[idx[j]]), str(time_col), f"{problem} for {symbol}")
        keep = np.ones(len(idx), dtype=bool)
        days = sym_ts.astype("datetime64[D]")
        if start is not None:
            keep &= days >= np.datetime64(start)
        if end is not None:
            keep &= days <= np.datetime64(end)
        if not keep.any():
            continue
        pick = idx[keep]
        result[str(symbol)] = SymbolBars(
            str(symbol),
            ts_ns[pick],
            numeric["open"][pick],
            numeric["high"][pick],
            numeric["low"][pick],
            numeric["close"][pick],
            numeric["volume"][pick],
            numeric["vix"][pick] if "vix" in numeric else None,
        )
    if not result:
        span = f"between {start or 'the start'} and {end or 'the end'}"
        raise _fail(
            source,
            None,
            None,
            f"no bars {span} (the file covers {pd.Timestamp(ts_ns.min()).date()} to {pd.Timestamp(ts_ns.max()).date()})",
        )
    return result


def bars_from_arrays(
    symbol: str,
    ts: np.ndarray,
    open_: np.ndarray,
    high: np.ndarray,
    low: np.ndarray,
    close: np.ndarray,
    volume: np.ndarray,
) -> SymbolBars:
    """Bars already in memory (benchmarks, reference tests); trusted to be sorted and positive."""
    return SymbolBars(
        symbol,
        np.asarray(ts, dtype="datetime64[ns]"),
        *(np.asarray(a, dtype=np.float64) for a in (open_, high, low, close, volume)),
    )
