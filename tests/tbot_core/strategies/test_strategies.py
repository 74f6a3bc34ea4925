"""Strategies: one bar-by-bar implementation serves live and simulate(); session rules from the calendar."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest

from tbot_core.bars import Bar
from tbot_core.config import Settings
from tbot_core.errors import ConfigError
from tbot_core.paths import package_sample_data
from tbot_core.signals import IndicatorSnapshot
from tbot_core.strategies.registry import STRATEGIES, build_strategies
from tbot_core.strategies.sma_cross import SmaCross


def _sample(symbol: str) -> pd.DataFrame:
    frame = pd.read_csv(package_sample_data("sample_ohlcv.csv"))
    return frame[frame.symbol == symbol].rename(columns={"timestamp_utc": "ts"}).reset_index(drop=True)


def _bars(frame: pd.DataFrame) -> list[Bar]:
    stamps = pd.to_datetime(frame.ts, utc=True).dt.to_pydatetime()
    return [
        Bar(ts, r.symbol, float(r.open), float(r.high), float(r.low), float(r.close), float(r.volume))
        for ts, r in zip(stamps, frame.itertuples())
    ]


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_simulate_gives_exactly_the_signals_of_feeding_on_bar_live(name):
    frame = _sample("SPY")
    live = STRATEGIES[name](Settings())
    fed = [s for bar in _bars(frame) for s in live.on_bar(bar, 20.0)]
    simulated = STRATEGIES[name](Settings()).simulate(frame.assign(vix=20.0))
    assert [(s.ts, s.side, s.price, s.reason) for s in fed] == [(s.ts, s.side, s.price, s.reason) for s in simulated]
    assert simulated, f"{name} produced no signal on a week of sample data"
    if STRATEGIES[name].enhancements:  # filters judge these signals by the indicator state they carry
        assert all(isinstance(s.context["indicators"], IndicatorSnapshot) for s in simulated)


def test_opening_range_breakout_enters_once_per_session_after_the_range():
    signals = STRATEGIES["open"](Settings()).simulate(_sample("AAPL"))
    entries = [s for s in signals if not s.context.get("exit")]
    days = [s.ts.date() for s in entries]
    assert len(days) == len(set(days))
    for sig in entries:
        assert (sig.ts.minute + sig.ts.hour * 60) >= (13 * 60 + 30) + 30  # never inside a 30-minute opening range


def test_close_strategy_acts_in_the_last_30_minutes_in_winter_and_summer():
    signals = STRATEGIES["close"](Settings()).simulate(_sample("SPY"))
    by_month = {s.ts.month: s.ts.time() for s in signals}
    assert by_month[1].hour == 20 and by_month[1].minute == 30  # close 21:00 UTC in January
    assert by_month[7].hour == 19 and by_month[7].minute == 30  # close 20:00 UTC in July


def test_build_strategies_honours_the_toggles():
    assert [s.name for s in build_strategies(Settings())] == ["open", "mid", "close"]
    off = Settings().with_values({"STRAT_MID_ENABLED": "false"})
    assert [s.name for s in build_strategies(off)] == ["open", "close"]


def test_sma_cross_signals_on_the_crossing_bar():
    start = datetime(2026, 1, 5, tzinfo=UTC)
    closes = [10.0] * 20 + [11.0] * 5 + [9.0] * 25
    frame = pd.DataFrame(
        {
            "ts": [start + timedelta(days=i) for i in range(len(closes))],
            "open": closes,
            "high": closes,
            "low": closes,
            "close": closes,
            "volume": 100.0,
        }
    )
    signals = SmaCross(fast=10, slow=20).simulate(frame, symbol="XYZ")
    above = (frame.close.rolling(10).mean() > frame.close.rolling(20).mean())[19:]
    flips = above.index[1:][above.to_numpy()[1:] != above.to_numpy()[:-1]]
    expected = [("buy" if above[i] else "sell", start + timedelta(days=int(i))) for i in flips]
    assert [(s.side, s.ts) for s in signals] == expected
    assert expected[0] == ("buy", start + timedelta(days=20)) and expected[-1][0] == "sell"


def test_bad_bars_are_skipped_and_counted_never_signalled():
    strategy = SmaCross(fast=2, slow=3)
    ts = datetime(2026, 1, 5, 15, tzinfo=UTC)
    bad = [
        Bar(ts, "X", float("nan"), 1, 1, 1, 1),
        Bar(ts, "X", 0.0, 0.0, 0.0, 0.0, 1),
        Bar(ts, "X", -1, -1, -1, -1, 1),
        Bar(ts, "X", 5, 4, 6, 5, 1),
    ]
    assert all(strategy.on_bar(bar, None) == [] for bar in bad)
    assert strategy._states["X"].indicators.bad_bars == 4 and strategy._states["X"].indicators.bars == 0


def test_simulate_names_a_missing_column():
    with pytest.raises(ConfigError, match="'volume' missing"):
        SmaCross().simulate(pd.DataFrame({"ts": [], "open": [], "high": [], "low": [], "close": []}))
