"""ADX and Bollinger over 1,000,000 bars: our array form next to TA-Lib, plus the incremental form's per-bar cost.

Run: .venv/bin/python bench/indicators.py   (TA-Lib is the bench-only peer, PyPI ``ta-lib``)
Targets: time ratio <= 2, max abs difference after warm-up <= 1e-8.
"""

from __future__ import annotations

import time

import numpy as np
import talib
from scipy.signal import lfilter

from tbot_core import indicators as ind

N = 1_000_000
LIVE_BARS = 100_000


def prices(n: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean-reverting log price around 100 with intrabar ranges: realistic, never drifts to 0."""
    rng = np.random.default_rng(42)
    close = np.exp(np.log(100.0) + lfilter([1.0], [1.0, -0.9999], rng.normal(0, 0.001, n)))
    return close * (1 + np.abs(rng.normal(0, 5e-4, n))), close * (1 - np.abs(rng.normal(0, 5e-4, n))), close


def best_of(fn, repeats: int = 5) -> tuple[float, object]:
    best, out = float("inf"), None
    for _ in range(repeats):
        start = time.perf_counter()
        out = fn()
        best = min(best, time.perf_counter() - start)
    return best, out


def main() -> None:
    high, low, close = prices(N)
    rows = []
    ours_t, ours = best_of(lambda: ind.adx(high, low, close, 14))
    ref_t, ref = best_of(lambda: talib.ADX(high, low, close, 14))
    rows.append(("ADX(14)", ours_t, ref_t, float(np.nanmax(np.abs(ours - ref)))))
    ours_t, ours = best_of(lambda: ind.bollinger(close, 20, 2.0))
    ref_t, ref = best_of(lambda: talib.BBANDS(close, 20, 2.0, 2.0, 0))
    diff = max(float(np.nanmax(np.abs(a - b))) for a, b in zip(ours, ref))
    rows.append(("BBANDS(20,2)", ours_t, ref_t, diff))
    print(f"{N:,} bars, best of 5")
    print(f"{'indicator':<14}{'ours ms':>10}{'TA-Lib ms':>11}{'ratio':>8}{'max |diff|':>13}")
    for name, t_ours, t_ref, d in rows:
        print(f"{name:<14}{t_ours * 1e3:>10.1f}{t_ref * 1e3:>11.1f}{t_ours / t_ref:>8.2f}{d:>13.2e}")

    h, lo, c = high[:LIVE_BARS].tolist(), low[:LIVE_BARS].tolist(), close[:LIVE_BARS].tolist()
    adx_live, bb_live = ind.IncrementalADX(14), ind.IncrementalBollinger(20, 2.0)
    start = time.perf_counter()
    for i in range(LIVE_BARS):
        adx_live.update(h[i], lo[i], c[i])
    adx_us = (time.perf_counter() - start) / LIVE_BARS * 1e6
    start = time.perf_counter()
    for x in c:
        bb_live.update(x)
    bb_us = (time.perf_counter() - start) / LIVE_BARS * 1e6
    start = time.perf_counter()
    for x in c:
        abs(x)
    floor_us = (time.perf_counter() - start) / LIVE_BARS * 1e6
    print(
        f"incremental per bar ({LIVE_BARS:,} bars): ADX {adx_us:.2f} us, Bollinger {bb_us:.2f} us "
        f"(bare Python call floor {floor_us:.3f} us)"
    )


if __name__ == "__main__":
    main()
