"""The fast engine makes the bar engine's fills, cash and equity: on the sample data and on generated markets.

The bar engine is the core's own ``Engine`` replayed in a scratch home (``run_live``); the fast
engine is ``fast.run.run_events``.  Every filter the config enables is on.  Generated markets are
shaped by hypothesis: prices on a coarse grid (ties at every threshold) or continuous, bars before,
during and after sessions, weekends, a holiday and a half day, trading-free bars, VIX missing,
below or around the close strategy's floor, symbols that miss bars the others have, point-in-time
fundamentals that block, tight cash and a daily loss limit small enough to halt trading.
"""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tbot_core.backtest.data import read_bars_csv
from tbot_core.backtest.filtering import filter_settings
from tbot_core.backtest.sources import attach_vix
from tbot_core.config import Settings
from tbot_core.enhancements.registry import MODULES
from tbot_core.paths import package_sample_data
from tests.tbot_core.backtest.bar_vs_fast import Shape, assert_same, both, make_bars

EVERY_FILTER = [cls.name for cls in MODULES if cls.is_filter]
# Account and risk settings that make the path-dependent parts act: sizing to zero shares, a buy the
# paper cash cannot pay for, the open-positions cap, the daily loss limit halting trading.
ACCOUNTS = {
    "default": {},
    "tight": {  # open may spend all the cash: its whole-share buys often cannot pay the fee on top (rejected)
        "PAPER_STARTING_CASH": "3000.00",
        "MAX_RISK_PER_TRADE": "1",
        "ALLOC_OPEN": "1.0",
        "ALLOC_MID": "0",
        "ALLOC_CLOSE": "0",
        "PAPER_COMMISSION_MIN": "5.00",
    },
    "halting": {"DAILY_LOSS_LIMIT": "0.05%", "MAX_RISK_PER_TRADE": "0.3", "MAX_OPEN_POSITIONS": "2"},
    "costly": {"PAPER_SLIPPAGE_BPS": "40", "PAPER_COMMISSION_MIN": "3.00", "ALLOC_MID": "0.05"},
}


@pytest.fixture(scope="module")
def sample_bars():
    bars = read_bars_csv(package_sample_data("sample_ohlcv.csv"))
    return attach_vix(bars, package_sample_data("sample_vix.csv"))


@pytest.mark.parametrize("strategy", ["open", "mid", "close", "all"])
def test_the_fast_engine_makes_the_bar_engines_fills_on_the_sample_data(strategy, sample_bars):
    config = filter_settings(Settings(), only=EVERY_FILTER, no_filters=False, fundamentals=False)
    bar, fast = both(sample_bars, strategy, config)
    assert len(bar.fills) > 0
    assert_same(bar, fast)


def test_the_fast_engine_matches_with_the_fundamental_guard_reading_a_point_in_time_file(sample_bars, tmp_path):
    config = filter_settings(Settings(), only=EVERY_FILTER, no_filters=False, fundamentals=True)
    bar, fast = both(sample_bars, "all", config, fundamentals_dir=tmp_path)
    assert bar.blocks["open"].get("finnhub_fundamental_guard", 0) > 0  # the file bites
    assert_same(bar, fast)


SHAPES = st.builds(
    Shape,
    seed=st.integers(0, 2**32 - 1),
    first_day=st.sampled_from(["2026-01-05", "2026-03-06", "2026-11-25", "2026-12-31"]),
    days=st.integers(1, 4),
    step_minutes=st.sampled_from([1, 5, 7]),
    symbols=st.integers(1, 3),
    grid=st.booleans(),
    zero_volume=st.booleans(),
    vix=st.sampled_from(["none", "low", "around"]),
    gaps=st.booleans(),
)


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    shape=SHAPES,
    strategy=st.sampled_from(["open", "mid", "close", "all"]),
    account=st.sampled_from(sorted(ACCOUNTS)),
    fundamentals=st.booleans(),
)
def test_on_generated_markets_both_engines_make_the_same_fills_cash_and_equity(
    shape, strategy, account, fundamentals, tmp_path_factory
):
    base = Settings()
    bars = make_bars(shape, base.symbols)
    config = filter_settings(
        base.with_values(ACCOUNTS[account]), only=EVERY_FILTER, no_filters=False, fundamentals=fundamentals
    )
    folder = tmp_path_factory.mktemp("fundamentals") if fundamentals else None
    bar, fast = both(bars, strategy, config, fundamentals_dir=folder)
    assert_same(bar, fast)
