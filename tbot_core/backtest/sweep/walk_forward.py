"""Walk-forward: consecutive train/test segments, the best parameters of each train segment run on
the test segment after it, so in-sample figures stand next to out-of-sample ones.

``--walk-forward TRAIN/TEST`` counts *trading days present in the data* (a weekend or a gap in the
file is not a day anyone could trade); folds step forward by TEST days, and the last partial test
segment is dropped.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np

from tbot_core.backtest.data import SymbolBars
from tbot_core.errors import ConfigError

FLAG = "--walk-forward"


@dataclass(frozen=True)
class Fold:
    number: int
    train_start: date
    train_end: date
    test_start: date
    test_end: date


def parse_walk_forward(text: str) -> tuple[int, int]:
    train, sep, test = text.partition("/")
    try:
        sizes = int(train), int(test)
    except ValueError:
        sizes = (0, 0)
    if not sep or min(sizes) < 1:
        raise ConfigError(f"{FLAG}: expected TRAIN/TEST trading days, both >= 1 (e.g. 60/20), got {text[:20]!r}")
    return sizes


def trading_days(bars: dict[str, SymbolBars]) -> list[date]:
    days = np.unique(np.concatenate([series.ts.astype("datetime64[D]") for series in bars.values()]))
    return [d.astype(object) for d in days]


def folds(days: list[date], train: int, test: int) -> list[Fold]:
    out: list[Fold] = []
    first = 0
    while first + train + test <= len(days):
        tr, te = days[first : first + train], days[first + train : first + train + test]
        out.append(Fold(len(out) + 1, tr[0], tr[-1], te[0], te[-1]))
        first += test
    if not out:
        raise ConfigError(
            f"{FLAG} {train}/{test}: the window has {len(days)} trading days; expected at least {train + test}"
        )
    return out
