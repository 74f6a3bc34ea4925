"""The gate's indicator filters judged over a strategy's buy candidates at once.

``adx_filter`` and ``bollinger_confluence`` decide an entry from the
indicator snapshot the signal carries and nothing else (no clock, no file,
no feed): the same comparisons over the candidates' ``SnapshotTable`` arrays
give their verdicts for every candidate up front.  The loop then skips the
signal and the gate for an entry one of them blocks (``Gate.array_block``
counts it as ``decide`` would); an entry they allow still goes through the
real gate, which runs them again.  ``tests/tbot_core/backtest/
test_fast_entry_filters.py`` holds these forms to the modules' own
``evaluate`` on the same candidates.
"""

from __future__ import annotations

import numpy as np

from tbot_core.backtest.fast.exact import SnapshotTable
from tbot_core.config import Settings

ARRAY_FILTERS = ("adx_filter", "bollinger_confluence")
NONE = -1


def leading(chain: list[str]) -> tuple[str, ...]:
    """The filters right after the blocklist that have an array form, in the gate's order."""
    out: list[str] = []
    for name in chain[1:]:
        if name not in ARRAY_FILTERS:
            break
        out.append(name)
    return tuple(out)


def blocks(names: tuple[str, ...], table: SnapshotTable, settings: Settings) -> np.ndarray:
    """Per buy candidate of ``table``, the index in ``names`` of the first filter that blocks it, or ``NONE``."""
    first = np.full(table.bars.size, NONE, dtype=np.int64)
    bars = table.bars + 1  # IndicatorSnapshot.bars: the bars seen through the candidate
    for j, name in enumerate(names):
        with np.errstate(invalid="ignore"):
            if name == "adx_filter":
                # snapshot_for: too few bars; then a NaN ADX, or an ADX above the threshold (NaN > x is False).
                blocked = (
                    (bars < 2 * settings.adx_period) | np.isnan(table.adx) | (table.adx > float(settings.adx_threshold))
                )
            else:  # bollinger_confluence, a buy: needs its close at or below the lower band
                blocked = (
                    (bars < settings.bollinger_period)
                    | np.isnan(table.upper)
                    | np.isnan(table.lower)
                    | ~(table.close <= table.lower)
                )
        first[(first == NONE) & blocked] = j
    return first
