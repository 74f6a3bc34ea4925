"""Strategies built together share one MarketState: each bar is folded once, and the signals do not change."""

from __future__ import annotations

import math
from datetime import UTC, datetime
from decimal import Decimal

import numpy as np
import pandas as pd
import pytest

from tbot_core.bars import Bar
from tbot_core.config import Settings
from tbot_core.paths import package_sample_data
from tbot_core.strategies.market_state import _bar_problem_reason, bar_problem
from tbot_core.strategies.registry import STRATEGIES, build_strategies


def _frame(symbol: str) -> pd.DataFrame:
    frame = pd.read_csv(package_sample_data("sample_ohlcv.csv"))
    return frame[frame.symbol == symbol].rename(columns={"timestamp_utc": "ts"}).reset_index(drop=True)


def _interleaved_bars(symbols: tuple[str, ...]) -> list[Bar]:
    frame = pd.read_csv(package_sample_data("sample_ohlcv.csv"))
    frame = frame[frame.symbol.isin(symbols)]
    stamps = pd.to_datetime(frame.timestamp_utc, utc=True).dt.to_pydatetime()
    return [
        Bar(ts, r.symbol, float(r.open), float(r.high), float(r.low), float(r.close), float(r.volume))
        for ts, r in zip(stamps, frame.itertuples())
    ]


def test_a_strategy_set_fed_together_signals_exactly_what_each_simulates_alone():
    symbols = ("SPY", "AAPL")
    strategies = build_strategies(Settings())
    assert len({id(s.market) for s in strategies}) == 1, "the strategy set must share one market state"
    live: dict[str, list] = {s.name: [] for s in strategies}
    for bar in _interleaved_bars(symbols):
        for strategy in strategies:
            live[strategy.name].extend(strategy.on_bar(bar, 20.0))
    for strategy in strategies:
        alone = [
            sig
            for sym in symbols
            for sig in STRATEGIES[strategy.name](Settings()).simulate(_frame(sym).assign(vix=20.0))
        ]
        key = lambda s: (s.ts, s.symbol, s.side, s.price, s.reason)  # noqa: E731 - a one-line local helper reads better inline
        assert sorted(map(key, live[strategy.name])) == sorted(map(key, alone)), strategy.name
        assert alone, f"{strategy.name} produced no signal on the sample data"


def test_each_bar_updates_a_symbols_indicators_once_however_many_strategies_read_them():
    strategies = build_strategies(Settings())
    bars = _interleaved_bars(("SPY",))[:200]
    for bar in bars:
        for strategy in strategies:
            strategy.on_bar(bar, None)
        strategies[0].on_bar(bar, None)  # the engine retrying a bar must not fold it in twice either
    indicators = strategies[0].market.indicators("SPY")
    assert indicators.bars == len(bars)
    assert all(s._states["SPY"].indicators is indicators for s in strategies)


def test_strategies_built_alone_keep_private_market_state():
    a, b = STRATEGIES["mid"](Settings()), STRATEGIES["mid"](Settings())
    assert a.market is not b.market and a.fresh().market is not a.market


TS = datetime(2026, 1, 5, 15, tzinfo=UTC)


@pytest.mark.parametrize(
    "values",
    [
        (100.0, 101.0, 99.0, 100.5, 1000.0),
        (100, 101, 99, 100, 1000),
        (math.nan, 1.0, 1.0, 1.0, 1.0),
        (1.0, math.inf, 1.0, 1.0, 1.0),
        (0.0, 0.0, 0.0, 0.0, 1.0),
        (-1.0, -1.0, -1.0, -1.0, 1.0),
        (5.0, 4.0, 6.0, 5.0, 1.0),
        (5.0, 6.0, 4.0, 7.0, 1.0),
        (5.0, 6.0, 4.0, 5.0, -1.0),
        (Decimal(5), Decimal(6), Decimal(4), Decimal(5), Decimal(1)),
        (np.float64(5), 6.0, 4.0, 5.0, 1.0),
        (None, 6.0, 4.0, 5.0, 1.0),
        ("5", 6.0, 4.0, 5.0, 1.0),
        (1e308, 1.5e308, 1e308, 1.2e308, 1.0),
    ],
    ids=lambda v: "-".join(type(x).__name__ + str(x)[:6] for x in v),
)
def test_the_fast_sound_bar_check_agrees_with_the_careful_one(values):
    bar = Bar(TS, "X", *values)
    assert bar_problem(bar) == _bar_problem_reason(bar)
