"""The fast engine's shortcuts answer as the long way does.

* ``Gate.used_ticker_blocks`` counts N entries on a used ticker as N ``decide`` calls count them;
* ``Gate.decide_prejudged`` (the array filters already allowed the entry) decides and counts as ``decide``;
* ``TuningTracker.observe_blocked`` is N ``observe`` calls;
* ``DailyLossWatch.judge_run`` (every bar judged at once from the fills) halts at the bar, with the cause,
  the careful watch (judging stretch by stretch before each fill) halts at, and an optimistic run is
  trusted only when that bar comes after its last check.
"""

from __future__ import annotations

import random
import tempfile
from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core.audit import AuditLog
from tbot_core.backtest.data import read_bars_csv
from tbot_core.backtest.fast import entry_filters, mid_rule
from tbot_core.backtest.fast.daily_loss import DailyLossWatch
from tbot_core.backtest.fast.exact import Indicators
from tbot_core.backtest.fast.timeline import Timeline, build_timeline
from tbot_core.backtest.sources import attach_vix
from tbot_core.config import Settings
from tbot_core.data.finnhub import Fundamentals
from tbot_core.gate import Gate
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths, offline_home, package_sample_data
from tbot_core.signals import MarketContext, Signal
from tests.tbot_core.backtest.bar_vs_fast import Shape, make_bars

IDENTITY = Identity("TBOT_PAPER_01", "US", "PAPER")
NAMES = ("adx_filter", "bollinger_confluence")


def _settings(**values: str) -> Settings:
    return Settings().with_values(
        {
            "ADX_FILTER_ENABLED": "true",
            "BOLLINGER_CONFLUENCE_ENABLED": "true",
            "TUNING_TRACKER_ENABLED": "true",
            **values,
        }
    )


def _gate(config: Settings) -> Gate:
    return Gate.offline(config, IDENTITY, HomePaths(offline_home(tempfile.gettempdir())))


def _counts(gate: Gate) -> tuple:
    rows = {row.module: (row.allowed, row.blocked, row.status) for row in gate.enhancement_status()}
    return rows, {name: (s.signals, s.allowed, dict(s.blocks)) for name, s in gate.tracker.stats.items()}


def _entries(config: Settings):
    """mid's buy candidates on the sample data: (symbol, timeline, snapshot table, first array block)."""
    bars = attach_vix(read_bars_csv(package_sample_data("sample_ohlcv.csv")), package_sample_data("sample_vix.csv"))
    timeline = build_timeline(bars)
    for symbol, t in timeline.per.items():
        ind = Indicators(t, config.adx_period, config.bollinger_period, float(config.bollinger_num_std))
        table = ind.snapshots(mid_rule.candidates(t, ind, config).buys, float(config.adx_threshold))
        yield symbol, t, table, entry_filters.blocks(NAMES, table, config).tolist()


def _signal(symbol: str, t, table, k: int, side: str = "buy") -> Signal:
    snap = table.get(k)
    price = Decimal(repr(float(t.bars.close[k])))
    return Signal(t.stamp(k), "mid", symbol, side, price, "", {"indicators": snap})


def _market(signal: Signal) -> MarketContext:
    snap = signal.context.get("indicators")
    return MarketContext(indicators={signal.symbol: snap} if snap is not None else {})


def test_entries_the_arrays_allow_are_decided_and_counted_as_decide_decides_them():
    config = _settings()
    by_decide, by_shortcut = _gate(config), _gate(config)
    taken = 0
    for symbol, t, table, first in _entries(config):
        for k, j in zip(table.bars.tolist(), first):
            signal = _signal(symbol, t, table, k)
            decision = by_decide.decide(signal, _market(signal))
            if j == entry_filters.NONE:
                again = by_shortcut.decide_prejudged(signal, _market(signal), NAMES)
                modules = [v.module for v in again.verdicts]
                # the shortcut was taken: the blocklist ran for real, the prejudged filters made no verdict
                assert modules[0] == "ticker_blocklist" and not set(NAMES) & set(modules), modules
                taken += 1
            else:
                again = by_shortcut.decide(signal, _market(signal))
            blocker = [v.module for v in decision.verdicts if not v.allow]
            assert (again.allow, [v.module for v in again.verdicts if not v.allow]) == (decision.allow, blocker)
            if decision.allow:  # the order goes out: the ticker is used for the rest of the session
                by_decide.order_sent(signal)
                by_shortcut.order_sent(signal)
    assert taken > 0
    assert _counts(by_shortcut) == _counts(by_decide)
    assert _counts(by_decide)[0]["ticker_blocklist"][1] > 0  # used tickers were met on the shortcut too


def test_the_prejudged_decision_falls_back_to_decide_when_it_cannot_vouch_for_the_chain(tmp_path):
    config = _settings()
    symbol, t, table, first = next(_entries(config))
    k = table.bars.tolist()[first.index(entry_filters.NONE)]
    exit_ = _signal(symbol, t, table, k, side="sell")
    for gate, signal, allowed in (
        (_gate(config), exit_, NAMES),  # an exit: decide's exit verdict
        (_gate(config), _signal(symbol, t, table, k), ("bollinger_confluence", "adx_filter")),  # not the chain's order
        (
            Gate(config, IDENTITY, HomePaths(tmp_path), audit=None, broker_code="PAPER"),
            _signal(symbol, t, table, k),
            NAMES,
        ),
    ):
        decision = gate.decide_prejudged(signal, _market(signal), allowed)
        modules = [v.module for v in decision.verdicts]
        assert modules == ["signal"] if signal.side == "sell" else set(NAMES) <= set(modules)


def test_a_run_of_entries_on_a_used_ticker_is_counted_as_that_many_decisions():
    config = _settings()
    by_decide, in_bulk = _gate(config), _gate(config)
    symbol, t, table, _first = next(_entries(config))
    bars = table.bars.tolist()
    sessions = {}
    for k in bars:
        sessions.setdefault(int(t.sess[k]), []).append(k)
    day_bars = max(sessions.values(), key=len)
    assert len(day_bars) > 3
    day = t.session_of(day_bars[0]).day
    assert not in_bulk.used_ticker_blocks("mid", symbol, day, 2)  # not used yet: nothing counted
    used = _signal(symbol, t, table, day_bars[0])
    for gate in (by_decide, in_bulk):
        gate.order_sent(used)
    for k in day_bars[1:]:
        signal = _signal(symbol, t, table, k)
        assert not by_decide.decide(signal, _market(signal)).allow
    assert not in_bulk.used_ticker_blocks("mid", symbol, day, 0)
    assert in_bulk.used_ticker_blocks("mid", symbol, day, len(day_bars) - 1)
    assert _counts(in_bulk) == _counts(by_decide)
    reasons = [{r.module: r.last_reason for r in g.enhancement_status()} for g in (in_bulk, by_decide)]
    assert reasons[0]["ticker_blocklist"] == reasons[1]["ticker_blocklist"] != ""  # the operator sees why


@given(times=st.integers(0, 5), blocker=st.sampled_from(["ticker_blocklist", "adx_filter", ""]))
def test_observe_blocked_counts_as_that_many_observations(times, blocker):
    one, bulk = _gate(_settings()).tracker, _gate(_settings()).tracker
    for _ in range(times):
        one.observe("mid", False, blocker or None)
    bulk.observe_blocked("mid", blocker, times)
    assert {k: v.as_dict() for k, v in bulk.stats.items()} == {k: v.as_dict() for k, v in one.stats.items()}


# -- the kill switch, judged at once -------------------------------------------------------------------------


def _timeline(seed: int) -> Timeline:
    shape = Shape(seed, "2026-03-06", 4, 5, 3, grid=False, zero_volume=False, vix="low", gaps=True)
    return build_timeline(make_bars(shape, Settings().symbols))


def _fills(tl: Timeline, rng: random.Random, n: int) -> list[tuple[int, int, str, int]]:
    """``n`` made-up fills in stream order: (stream bar, cash after, symbol, shares after), long only."""
    picks = sorted((int(tl.per[s].gpos[rng.randrange(len(tl.per[s].bars))]), s) for s in rng.choices(tl.symbols, k=n))
    cash, held, out = 10_000_000, dict.fromkeys(tl.symbols, 0), []
    for g, symbol in picks:
        shares = max(0, held[symbol] + rng.choice([-30, -10, 10, 40]))
        cash -= (shares - held[symbol]) * rng.randint(5_000, 30_000)
        held[symbol] = shares
        out.append((g, cash, symbol, shares))
    return out


@settings(max_examples=40, deadline=None)
@given(
    seed=st.integers(0, 2**16),
    timeline_seed=st.sampled_from([3, 8]),
    fills=st.integers(0, 12),
    limit=st.sampled_from(["0.01%", "0.2%", "3%", "150"]),
)
def test_judging_every_bar_at_once_halts_where_the_careful_watch_halts(seed, timeline_seed, fills, limit):
    tl = _timeline(timeline_seed)
    config = Settings().with_values({"DAILY_LOSS_LIMIT": limit})
    changes = _fills(tl, random.Random(seed), fills)
    careful, optimistic = DailyLossWatch(tl, config), DailyLossWatch(tl, config, optimistic=True)
    cash, positions = 10_000_000, {}
    for g, after, symbol, shares in changes:  # the loop checks, then fills
        careful.halted(g, cash, positions)
        assert not optimistic.halted(g, cash, positions)
        cash = after
        positions = {**positions, symbol: (shares, "mid")}
        positions = {s: held for s, held in positions.items() if held[0]}
    careful.halted(tl.total - 1, cash, positions)
    optimistic.judge_run(10_000_000, changes)
    assert (optimistic.triggered_at, optimistic.cause) == (careful.triggered_at, careful.cause)
    last = max((g for g, *_ in changes), default=-1)
    assert optimistic.trusted == (careful.triggered_at is None or careful.triggered_at > last)


@pytest.mark.parametrize("limit", ["0.01%", "3%"])
def test_an_optimistic_run_is_trusted_only_when_the_halt_comes_after_its_last_check(limit):
    tl = _timeline(3)
    config = Settings().with_values({"DAILY_LOSS_LIMIT": limit})
    changes = _fills(tl, random.Random(1), 8)
    watch = DailyLossWatch(tl, config, optimistic=True)
    watch.halted(tl.total - 1, 0, {})  # a check at the last bar: any halt comes at or before it
    watch.judge_run(10_000_000, changes)
    assert watch.trusted == (watch.triggered_at is None)


def test_an_unusable_or_foreign_signal_given_the_shortcut_is_refused_as_decide_refuses_it():
    config = _settings()
    symbol, t, table, first = next(_entries(config))
    k = table.bars.tolist()[first.index(entry_filters.NONE)]
    good = _signal(symbol, t, table, k)
    free = Signal(good.ts, good.strategy, good.symbol, good.side, Decimal(0), "", good.context)  # price 0: unusable
    for signal in (free, "not a signal"):
        by_decide, by_shortcut = _gate(config), _gate(config)
        want = by_decide.decide(signal, _market(good))  # type: ignore[arg-type]  # a foreign object on purpose
        got = by_shortcut.decide_prejudged(signal, _market(good), NAMES)  # type: ignore[arg-type]  # likewise
        assert (got.allow, [v.module for v in got.verdicts]) == (want.allow, [v.module for v in want.verdicts])
        assert not got.allow


def test_a_gate_that_logs_or_audits_never_counts_in_bulk_even_on_a_used_ticker(tmp_path):
    """Every decision of a live gate must reach its verdict log and audit: no shortcut, whichever of the two it keeps."""
    config = _settings()
    symbol, t, table, first = next(_entries(config))
    k = table.bars.tolist()[0]
    used = _signal(symbol, t, table, k)
    day = t.session_of(k).day
    with AuditLog(tmp_path / "audit.db") as audit:
        for gate in (
            Gate(config, IDENTITY, HomePaths(tmp_path / "log"), audit=None, broker_code="PAPER", persist=True),
            Gate(config, IDENTITY, HomePaths(tmp_path / "audit"), audit=audit, broker_code="PAPER", persist=False),
        ):
            assert (gate.log is None) != (gate.audit is None)
            gate.order_sent(used)
            assert not gate.used_ticker_blocks("mid", symbol, day, 3)
            assert not gate.array_block("mid", symbol, day, (), "adx_filter")


def test_a_bulk_count_leaves_the_allowing_modules_ok_and_shows_a_tracker_that_failed():
    config = _settings()
    symbol, t, table, first = next(_entries(config))
    day = t.session_of(table.bars.tolist()[0]).day
    gate = _gate(config)
    assert gate.array_block("mid", symbol, day, ("adx_filter",), "bollinger_confluence")
    status = {r.module: r.status.value for r in gate.enhancement_status()}
    assert status["adx_filter"] == status["bollinger_confluence"] == status["tuning_tracker"] == "ok"

    def broken(*_args: object) -> None:
        raise RuntimeError("tracker file gone")

    gate.tracker.observe_blocked = broken  # type: ignore[method-assign]  # the tracker fails inside a bulk count
    assert gate.array_block("mid", symbol, day, ("adx_filter",), "bollinger_confluence")
    status = {r.module: r.status.value for r in gate.enhancement_status()}
    assert status["tuning_tracker"] == "error" and status["adx_filter"] == "ok"


def test_an_array_block_is_refused_out_of_the_chains_order_or_on_a_used_ticker_and_counts_nothing():
    config = _settings()
    symbol, t, table, first = next(_entries(config))
    k = table.bars.tolist()[0]
    day = t.session_of(k).day
    gate = _gate(config)
    before = _counts(gate)
    assert not gate.array_block("mid", symbol, day, ("bollinger_confluence",), "adx_filter")  # not the chain's order
    assert not gate.array_block("nope", symbol, day, (), "adx_filter")  # no such strategy
    gate.order_sent(_signal(symbol, t, table, k))  # the ticker is used for the session: the blocklist blocks first
    assert not gate.array_block("mid", symbol, day, ("adx_filter",), "bollinger_confluence")
    assert _counts(gate) == before


def test_a_module_after_the_prejudged_ones_that_blocks_ends_the_chain_as_decide_ends_it():
    """mid's chain after the two array filters has two more modules: the guard blocks, so Black-Scholes never runs."""
    config = _settings(FUNDAMENTAL_GUARD_ENABLED="true", ENABLE_BSM_FILTER="true", MAX_PE_RATIO="30")
    symbol, t, table, first = next(_entries(config))
    signal = _signal(symbol, t, table, table.bars.tolist()[first.index(entry_filters.NONE)])
    market = MarketContext(
        indicators=_market(signal).indicators,
        fundamentals={symbol: Fundamentals(symbol, 99.0, 1.0, 3e12, "2026-01-06")},  # PE 99 > 30: blocked
    )
    by_shortcut, by_decide = _gate(config), _gate(config)
    decision = by_shortcut.decide_prejudged(signal, market, NAMES)
    expected = by_decide.decide(signal, market)
    assert [v.module for v in decision.verdicts] == ["ticker_blocklist", "finnhub_fundamental_guard"]
    assert (decision.allow, decision.reason) == (False, expected.reason) and not expected.allow
    counts = {row.module: (row.allowed, row.blocked) for row in by_shortcut.enhancement_status()}
    assert counts["black_scholes_filter"] == (0, 0) and counts["finnhub_fundamental_guard"] == (0, 1)
    assert _counts(by_shortcut) == _counts(by_decide)
