"""Regenerate the sample OHLCV + VIX data that ships with the package.

Deterministic (fixed seed).  Three US sessions, one of them in July so the
daylight-saving shift of the session in UTC is exercised.  Run:
``python tools/make_sample_data.py`` and commit the CSVs.
"""

from __future__ import annotations

from pathlib import Path

import exchange_calendars as xcals
import numpy as np
import pandas as pd

OUT = Path(__file__).resolve().parent.parent / "tbot_core" / "sample_data"
SYMBOLS = {"SPY": 590.0, "AAPL": 232.0, "MSFT": 428.0, "NVDA": 141.0}
SESSIONS = ["2026-01-05", "2026-01-06", "2026-07-07"]


def main() -> None:
    cal = xcals.get_calendar("XNYS")
    rng = np.random.default_rng(20260105)
    rows, vix_rows = [], []
    vix = 17.5
    for day in SESSIONS:
        minutes = cal.session_minutes(day)
        n = len(minutes)
        vix_path = vix + np.cumsum(rng.normal(0, 0.05, n))
        vix = float(vix_path[-1])
        for ts, v in zip(minutes, vix_path):
            vix_rows.append((ts.strftime("%Y-%m-%dT%H:%M:%SZ"), f"{max(v, 9.0):.2f}"))
        for sym, start in SYMBOLS.items():
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
            high = np.maximum(open_, close) + spread
            low = np.minimum(open_, close) - spread
            volume = rng.integers(2_000, 60_000, n)
            for ts, o, h, lo, c, v in zip(minutes, open_, high, low, close, volume):
                rows.append(
                    (ts.strftime("%Y-%m-%dT%H:%M:%SZ"), sym, f"{o:.2f}", f"{h:.2f}", f"{lo:.2f}", f"{c:.2f}", int(v))
                )
            SYMBOLS[sym] = float(close[-1])
    frame = pd.DataFrame(rows, columns=["timestamp_utc", "symbol", "open", "high", "low", "close", "volume"])
    frame.sort_values(["timestamp_utc", "symbol"], kind="stable").to_csv(OUT / "sample_ohlcv.csv", index=False)
    pd.DataFrame(vix_rows, columns=["timestamp_utc", "vix"]).to_csv(OUT / "sample_vix.csv", index=False)
    print(f"{len(frame)} bars, {len(vix_rows)} VIX points -> {OUT}")


if __name__ == "__main__":
    main()
