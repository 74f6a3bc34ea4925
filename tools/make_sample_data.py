"""Regenerate the sample OHLCV + VIX data that ships with the package.

Deterministic (fixed seeds, no clock, no network): ``tests/tbot_core/test_sample_data.py``
regenerates both files and compares them byte for byte with the shipped ones.
Three US sessions, one of them in July so the daylight-saving shift of the
session in UTC is exercised.  Run ``python tools/make_sample_data.py`` and
commit the CSVs.

Two kinds of symbol:

- ``SHIPPED_WALKS``: seeded random walks with trending and mean-reverting
  stretches (the original sample; their rows are unchanged by the shapes
  added below).
- ``SHAPES``: one symbol per strategy, drawn so a fresh paper home shows each
  of open, mid and close trading in every session even though the ticker
  blocklist lets each ticker trade once per session: a quiet opening range
  then a breakout (open); a calm tape with one sharp dip that reverts (mid,
  inside a wide opening range so open never breaks out); a spike in the
  opening range then a steady grind up into the close (close, which holds it
  overnight).
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from pathlib import Path

import exchange_calendars as xcals
import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent.parent / "tbot_core" / "sample_data"
SYMBOLS = {"SPY": 590.0, "AAPL": 232.0, "MSFT": 428.0, "NVDA": 141.0}
# MSFT and NVDA are still drawn (SPY's and AAPL's rows stay what they always were) but not shipped: with
# five symbols, MAX_OPEN_POSITIONS=5 can never starve the close strategy of its slot at the window.
SHIPPED_WALKS = ("SPY", "AAPL")
SESSIONS = ["2026-01-05", "2026-01-06", "2026-07-07"]
SEED = 20260105
SHAPE_SEED = 20260106
Rows = list[tuple[str, str, str, str, str, str, int]]


def _stamp(ts: pd.Timestamp) -> str:
    return ts.strftime("%Y-%m-%dT%H:%M:%SZ")


def _bars(sym: str, minutes: pd.DatetimeIndex, open_: np.ndarray, close: np.ndarray, wick: np.ndarray, rng) -> Rows:
    high = np.maximum(open_, close) + wick
    low = np.minimum(open_, close) - wick
    volume = rng.integers(2_000, 60_000, len(close))
    return [
        (_stamp(ts), sym, f"{o:.2f}", f"{h:.2f}", f"{lo:.2f}", f"{c:.2f}", int(v))
        for ts, o, h, lo, c, v in zip(minutes, open_, high, low, close, volume)
    ]


def breakout(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Relative closes and wicks: 30 quiet minutes, then a jump over the range and a steady rise."""
    i = np.arange(n)
    close = 1 + rng.normal(0, 0.0002, n) + np.where(i >= 30, 0.004 + 0.00004 * (i - 30), 0.0)
    return close, np.abs(rng.normal(0, 0.0003, n)) + 0.0002


def dip(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """Wide swings in the opening range, then a choppy tape (no trend: a low ADX) with one sharp dip at
    minute 150 that reverts."""
    i = np.arange(n)
    chop = 0.0006 * np.sin(np.pi * i / 4) + rng.normal(0, 0.00002, n)  # a balanced 8-minute swing
    close = 1 + np.where(i < 30, 0.01 * np.sin(i / 2.5), chop)
    shape = np.interp(i, [0, 149, 150, 152, 170, n], [0, 0, -0.006, -0.006, 0, 0])
    return close + shape, np.full(n, 0.0003)


def grind(n: int, rng) -> tuple[np.ndarray, np.ndarray]:
    """A spike in the opening range, then a steady climb that stays under it into the close."""
    i = np.arange(n)
    close = 1 + rng.normal(0, 0.00005, n) + np.where(i >= 30, 0.00003 * (i - 30), 0.0)
    wick = np.abs(rng.normal(0, 0.0002, n)) + 0.0003
    wick[3] = 0.02  # the spike: the range high no close reaches
    return close, wick


SHAPES: dict[str, tuple[float, Callable[[int, np.random.Generator], tuple[np.ndarray, np.ndarray]]]] = {
    "AMZN": (220.0, breakout),
    "META": (610.0, dip),
    "GOOGL": (190.0, grind),
}


def generate() -> tuple[str, str]:
    """(sample_ohlcv.csv, sample_vix.csv) as text."""
    cal = xcals.get_calendar("XNYS")
    rng = np.random.default_rng(SEED)
    shape_rng = np.random.default_rng(SHAPE_SEED)
    levels = dict(SYMBOLS)
    shape_levels = {sym: start for sym, (start, _) in SHAPES.items()}
    rows: Rows = []
    vix_rows = []
    vix = 17.5
    for day in SESSIONS:
        minutes = cal.session_minutes(day)
        n = len(minutes)
        vix_path = vix + np.cumsum(rng.normal(0, 0.05, n))
        vix = float(vix_path[-1])
        for ts, v in zip(minutes, vix_path):
            vix_rows.append((_stamp(ts), f"{max(v, 9.0):.2f}"))
        for sym, start in levels.items():
            drift = rng.normal(0, 0.00004)
            # alternate trending and mean-reverting stretches so every strategy fires
            shocks = rng.normal(drift, 0.0009, n)
            level = np.log(start)
            closes = []
            anchor = level
            for i, shock in enumerate(shocks):
                pull = -0.08 * (level - anchor) if (i // 90) % 2 else 0.0
                level += shock + pull
                if i % 90 == 0:
                    anchor = level
                closes.append(np.exp(level))
            close = np.array(closes)
            open_ = np.r_[start, close[:-1]]
            spread = np.abs(rng.normal(0, 0.0006, n)) * close
            walk = _bars(sym, minutes, open_, close, spread, rng)
            rows += walk if sym in SHIPPED_WALKS else []
            levels[sym] = float(close[-1])
        for sym, (_, draw) in SHAPES.items():
            start = shape_levels[sym]
            relative, wick = draw(n, shape_rng)
            close = np.round(start * relative, 2)
            open_ = np.r_[start, close[:-1]]
            rows += _bars(sym, minutes, open_, close, wick * close, shape_rng)
            shape_levels[sym] = float(close[-1])
    frame = pd.DataFrame(rows, columns=["timestamp_utc", "symbol", "open", "high", "low", "close", "volume"])
    ohlcv = frame.sort_values(["timestamp_utc", "symbol"], kind="stable").to_csv(index=False, lineterminator="\n")
    vix_text = pd.DataFrame(vix_rows, columns=["timestamp_utc", "vix"]).to_csv(index=False, lineterminator="\n")
    return ohlcv, vix_text


def main(out: Path = OUT) -> None:
    ohlcv, vix = generate()
    (out / "sample_ohlcv.csv").write_text(ohlcv, encoding="utf-8", newline="")
    (out / "sample_vix.csv").write_text(vix, encoding="utf-8", newline="")
    print(f"{ohlcv.count(chr(10)) - 1} bars, {vix.count(chr(10)) - 1} VIX points -> {out}")


if __name__ == "__main__":
    main(Path(sys.argv[1]) if len(sys.argv) > 1 else OUT)
