"""The engine owns its portfolio and publishes a frozen view per change; nobody else reads its parts."""

from __future__ import annotations

import dataclasses
import itertools
from decimal import Decimal

import pytest

from tbot_core.gate import Gate
from tbot_core.runtime.engine_view import EngineState, EngineView, Journal, PositionView
from tbot_core.state_schema import PnlPoint
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.engine_kit import build_engine
from tests.tbot_core.test_state_schema import mutable_parts


class Recorder:
    """A strategy that only looks: the view the engine published before each bar."""

    name = "mid"

    def __init__(self, engine) -> None:
        self.engine = engine
        self.views: list[EngineView] = []

    def on_bar(self, bar, vix):
        self.views.append(self.engine.view)
        return []


def test_a_view_is_frozen_all_the_way_down():
    view = EngineView(positions=(PositionView(symbol="SPY", qty=1, avg_cents=100, mark_cents=None, strategy="mid"),))
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.cash_cents = 5  # type: ignore[misc]  # the point: a frozen view refuses assignment
    with pytest.raises(dataclasses.FrozenInstanceError):
        view.positions[0].qty = 2  # type: ignore[misc]  # the point: a frozen view refuses assignment
    assert mutable_parts(view) == []


def test_the_engine_publishes_a_new_view_per_change_and_never_changes_a_published_one(tmp_path):
    paths = make_home(tmp_path, {}, bars=120, symbols=("SPY",))
    engine, store, _, _ = build_engine(paths.root, 40)
    engine._clock = lambda: 0.0  # time stands still: a new PnL point alone never comes due
    assert engine.view.state is EngineState.STARTING and not engine.view.account_read
    recorder = Recorder(engine)
    engine.strategies.append(recorder)
    engine.run()
    store.close()
    views = recorder.views  # views[i]: what a reader saw while bar i was in hand
    assert all(v.state is EngineState.RUNNING and v.account_read for v in views)
    assert views[1].bars == 1 and views[1].sod_cents is not None, "the day's start is a change"
    assert all(v is views[1] for v in views[1:39]), "bars of a symbol not held, no signal: nothing to publish"
    held = [i for i in range(1, 120) if views[i - 1].positions and views[i].positions]
    quiet = [i for i in held if views[i].orders is views[i - 1].orders]
    assert quiet and all(views[i].bars < i for i in quiet), "a held mark alone waits for the quiet interval"
    first_buy = next(i for i, v in enumerate(views) if v.positions)
    assert views[first_buy - 1].positions == () and views[first_buy - 1].orders == (), "an old view kept its past"
    assert all(mutable_parts(v) == [] for v in views[:: len(views) // 6])
    last = engine.view
    assert last.state is EngineState.FEED_ENDED and last.bars == engine.bars == 120
    held = {sym: qty for sym, (qty, _avg, _s) in engine.portfolio.positions.items()}
    assert {p.symbol: p.qty for p in last.positions} == held and held
    assert last.cash_cents == engine.portfolio.cash_cents
    assert [o.side for o in last.orders] == ["buy", "sell", "buy"], "newest first"
    assert last.equity_cents is not None and last.sod_cents is not None and last.day_limit_cents
    assert len(last.pnl_history) == 120, "points held back while nothing else moved are in the last view"


def test_a_held_symbols_mark_is_published_once_the_quiet_interval_has_passed(tmp_path):
    paths = make_home(tmp_path, {}, bars=120, symbols=("SPY",))
    engine, store, _, _ = build_engine(paths.root, 40)
    engine._clock = itertools.count(0, 2).__next__  # every reading 2 s later: the interval has always passed
    recorder = Recorder(engine)
    engine.strategies.append(recorder)
    engine.run()
    store.close()
    views = recorder.views
    held = [i for i in range(1, 120) if views[i - 1].positions and views[i].positions]
    assert held and all(views[i].bars == i for i in held), "a held symbol's mark: a view after every bar"


def test_the_view_carries_the_gates_enhancement_rows_and_tuning_stats(tmp_path):
    paths = make_home(tmp_path, {}, bars=60, symbols=("SPY",))
    engine, store, _, ctx = build_engine(paths.root, 10)
    engine.gate = Gate(ctx.settings, ctx.identity, ctx.paths, audit=ctx.audit, broker_code="PAPER")
    engine.run()
    store.close()
    view = engine.view
    assert [r.module for r in view.enhancements] == list(engine.gate.modules)
    assert "mid" in view.tuning and view.tuning["mid"].trades == 0
    assert view.verdicts and view.verdicts[0].context is not None, "gate verdicts keep their context"


def test_the_journal_keeps_the_newest_rows_first_within_its_bounds():
    journal = Journal(verdicts_kept=3, orders_kept=2, history_kept=2)
    for i in range(4):
        journal.pnl(PnlPoint(t=f"t{i}", pnl=Decimal(i)))
    assert [p.t for p in journal.history] == ["t2", "t3"], "history: newest last"
    assert isinstance(journal.history, tuple)
