"""The array forms of the ADX and Bollinger filters give the modules' own verdicts, and the gate counts them alike.

``fast.entry_filters`` judges a strategy's buy candidates over arrays; the loop
then skips the signal and the gate for the entries they block.  Here the real
modules' ``evaluate`` judges the same candidates (the signal the loop would
build, carrying the same snapshot), on grid prices (ties at the thresholds),
continuous prices and the sample data, under the default thresholds and under
thresholds moved onto the values themselves.
"""

from __future__ import annotations

import tempfile
from decimal import Decimal

import pytest

from tbot_core.backtest.data import SymbolBars, read_bars_csv
from tbot_core.backtest.fast import entry_filters, mid_rule, open_rule
from tbot_core.backtest.fast.exact import Indicators
from tbot_core.backtest.fast.timeline import build_timeline
from tbot_core.backtest.sources import attach_vix
from tbot_core.config import Settings
from tbot_core.gate import Gate
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths, offline_home, package_sample_data
from tbot_core.signals import MarketContext, Signal
from tests.tbot_core.backtest.bar_vs_fast import Shape, make_bars

IDENTITY = Identity("TBOT_PAPER_01", "US", "PAPER")
NAMES = ("adx_filter", "bollinger_confluence")
MARKETS = {
    "grid": Shape(7, "2026-01-05", 3, 1, 2, grid=True, zero_volume=False, vix="low"),
    "continuous": Shape(11, "2026-03-06", 2, 1, 2, grid=False, zero_volume=True, vix="around"),
}


def _settings(**values: str) -> Settings:
    return Settings().with_values({"ADX_FILTER_ENABLED": "true", "BOLLINGER_CONFLUENCE_ENABLED": "true", **values})


def _gate(settings: Settings) -> Gate:
    return Gate.offline(settings, IDENTITY, HomePaths(offline_home(tempfile.gettempdir())))


def _candidates(bars: dict[str, SymbolBars], settings: Settings):
    """Per symbol: its timeline, the buy candidates' snapshot table (open's and mid's buys together)."""
    timeline = build_timeline(bars)
    for symbol, t in timeline.per.items():
        ind = Indicators(t, settings.adx_period, settings.bollinger_period, float(settings.bollinger_num_std))
        for rule in (open_rule.candidates, mid_rule.candidates):
            buys = rule(t, ind, settings).buys
            yield symbol, t, ind.snapshots(buys, float(settings.adx_threshold))


def _module_first_block(gate: Gate, symbol: str, t, table, k: int) -> int:
    snap = table.get(k)
    signal = Signal(t.stamp(k), "mid", symbol, "buy", Decimal(repr(float(t.bars.close[k]))), "", {"indicators": snap})
    market = MarketContext(indicators={symbol: snap})
    for j, name in enumerate(NAMES):
        outcome = gate.modules[name].evaluate(signal, market)
        assert outcome.failure is None
        if not outcome.allow:
            return j
    return entry_filters.NONE


def _markets() -> dict[str, dict[str, SymbolBars]]:
    symbols = Settings().symbols
    out = {name: make_bars(shape, symbols) for name, shape in MARKETS.items()}
    sample = read_bars_csv(package_sample_data("sample_ohlcv.csv"))
    out["sample"] = attach_vix(sample, package_sample_data("sample_vix.csv"))
    return out


@pytest.mark.parametrize("market", ["grid", "continuous", "sample"])
@pytest.mark.parametrize("thresholds", ["default", "on_the_values"])
def test_the_array_filters_block_exactly_the_entries_the_modules_block_and_at_the_same_module(market, thresholds):
    bars = _markets()[market]
    settings = _settings()
    if thresholds == "on_the_values":
        # The threshold on a candidate's own ADX: near the threshold the ADX is replayed exactly, so read it
        # again under that threshold until it holds still; then that candidate meets ADX == threshold.
        for _ in range(3):
            some = next(table for _s, _t, table in _candidates(bars, settings) if table.bars.size > 10)
            settings = _settings(ADX_THRESHOLD=repr(float(some.adx[-1])))
        tie = next(table for _s, _t, table in _candidates(bars, settings) if table.bars.size > 10)
        assert float(tie.adx[-1]) == float(settings.adx_threshold)
    gate = _gate(settings)
    seen = set()
    for symbol, t, table in _candidates(bars, settings):
        arrays = entry_filters.blocks(NAMES, table, settings).tolist()
        modules = [_module_first_block(gate, symbol, t, table, k) for k in table.bars.tolist()]
        assert arrays == modules
        seen.update(arrays)
    # allowed, blocked by ADX, blocked by the bands: all met (a threshold on the values lets ADX block most)
    assert seen == {entry_filters.NONE, 0, 1} if thresholds == "default" else {entry_filters.NONE, 0} <= seen


def test_the_leading_array_filters_stop_at_the_first_filter_without_an_array_form():
    chain = ["ticker_blocklist", "adx_filter", "finnhub_fundamental_guard", "bollinger_confluence"]
    assert entry_filters.leading(chain) == ("adx_filter",)
    assert entry_filters.leading(["ticker_blocklist", "vix_gatekeeper", "adx_filter"]) == ()


def _counts(gate: Gate) -> tuple:
    rows = {row.module: (row.allowed, row.blocked) for row in gate.enhancement_status()}
    return rows, {name: (s.signals, s.allowed, dict(s.blocks)) for name, s in gate.tracker.stats.items()}


def _judged(decision) -> tuple:
    """A decision without its timings."""
    return decision.allow, decision.reason, [(v.module, v.allow, v.reason, dict(v.context)) for v in decision.verdicts]


def test_the_gates_shortcuts_count_a_block_as_decide_counts_it():
    bars = _markets()["sample"]
    settings = _settings(TUNING_TRACKER_ENABLED="true")
    by_decide, by_shortcut = _gate(settings), _gate(settings)
    decided = used = arrays = 0
    for symbol, t, table in _candidates(bars, settings):
        first = entry_filters.blocks(NAMES, table, settings).tolist()
        for k, j in zip(table.bars.tolist(), first):
            snap = table.get(k)
            price = Decimal(repr(float(t.bars.close[k])))
            signal = Signal(t.stamp(k), "mid", symbol, "buy", price, "", {"indicators": snap})
            decision = by_decide.decide(signal, MarketContext(indicators={symbol: snap}))
            day = t.session_of(k).day
            if by_shortcut.used_ticker_block("mid", symbol, day):
                assert decision.verdicts[-1].module == "ticker_blocklist" and not decision.allow
                used += 1
            elif j != entry_filters.NONE and by_shortcut.array_block("mid", symbol, day, NAMES[:j], NAMES[j]):
                assert (decision.allow, decision.verdicts[-1].module) == (False, NAMES[j])
                arrays += 1
            else:
                again = by_shortcut.decide(signal, MarketContext(indicators={symbol: snap}))
                assert _judged(again) == _judged(decision)
                decided += 1
            if decision.allow:  # the order goes out: the ticker is used for the rest of the session
                by_decide.order_sent(signal)
                by_shortcut.order_sent(signal)
    assert 0 < decided and 0 < used and 0 < arrays  # each shortcut was really taken, and counted as decide counts
    assert _counts(by_shortcut) == _counts(by_decide)
    assert _counts(by_decide)[0]["ticker_blocklist"][1] > 0  # used tickers were met


def test_a_gate_that_keeps_a_verdict_log_never_takes_a_shortcut(tmp_path):
    settings = _settings()
    gate = Gate(settings, IDENTITY, HomePaths(tmp_path), audit=None, broker_code="PAPER", persist=True)
    day = build_timeline(_markets()["sample"]).sessions[0].day
    assert not gate.array_block("mid", "AAPL", day, (), "adx_filter")
    assert not gate.used_ticker_block("mid", "AAPL", day)
