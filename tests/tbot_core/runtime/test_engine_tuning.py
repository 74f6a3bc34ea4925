"""The tuning figures come from the broker's real fills, and each position belongs to the strategy that opened it."""

from __future__ import annotations

from decimal import Decimal

from tbot_core.gate import Gate
from tbot_core.signals import Signal
from tests.tbot_core.runtime.core_harness import make_home
from tests.tbot_core.runtime.engine_kit import build_engine

FILTERS_OFF = {  # the real gate (blocklist and tuning tracker), without the entry filters that need history
    "ADX_FILTER_ENABLED": "false",
    "ENABLE_BSM_FILTER": "false",
    "BOLLINGER_CONFLUENCE_ENABLED": "false",
    "FUNDAMENTAL_GUARD_ENABLED": "false",
    "IMBALANCE_SCANNER_ENABLED": "false",
    "VIX_GATEKEEPER_ENABLED": "false",
}


def _real_gate(engine, ctx):
    engine.gate = Gate(ctx.settings, ctx.identity, ctx.paths, audit=ctx.audit, broker_code="PAPER")
    engine._gate_dirty = True


def _fill_cash(store) -> Decimal:
    rows = store.query("SELECT side, qty, price_cents, fee_cents FROM paper_fills ORDER BY rowid")
    cents = sum((q * p if s == "sell" else -q * p) - f for s, q, p, f in rows)
    return Decimal(cents) / 100


def test_a_closed_round_trip_reaches_the_tuning_figures_with_its_exact_pnl_and_duration(tmp_path):
    """Buy on bar 50, sell on bar 100 (one symbol, one bar a minute): one trip of 50 minutes, PnL from the fills."""
    paths = make_home(tmp_path, {}, bars=120, symbols=("SPY",), price=lambda i: 100.0 + i / 100)
    engine, store, _, ctx = build_engine(paths.root, 50, **FILTERS_OFF)
    _real_gate(engine, ctx)
    engine.run()
    stats = engine.view.tuning["mid"]
    assert stats.trades == 1 and stats.avg_duration_s == 50 * 60
    assert stats.realized_pnl == _fill_cash(store) and stats.realized_pnl != 0
    assert stats.win_rate == (Decimal(1) if stats.realized_pnl > 0 else Decimal(0))


def test_a_restarted_engine_rebuilds_its_round_trips_from_the_fills_before_the_first_bar(tmp_path):
    paths = make_home(tmp_path, {}, bars=120, symbols=("SPY",))
    engine, store, _, ctx = build_engine(paths.root, 50, **FILTERS_OFF)
    _real_gate(engine, ctx)
    engine.run()
    store.close()
    again, store2, _, ctx2 = build_engine(paths.root, 50, **FILTERS_OFF)
    _real_gate(again, ctx2)
    again.run()  # every bar was processed already: only the start-up work runs
    assert again.view.tuning["mid"].trades == 1
    assert again.view.tuning["mid"].realized_pnl == _fill_cash(store2)


class OneBuyThen:
    """``name`` buys SPY on its first bar, then says ``later`` on every bar after."""

    def __init__(self, name: str, later: str | None) -> None:
        self.name, self.later, self.bars = name, later, 0

    def on_bar(self, bar, vix):
        self.bars += 1
        side = "buy" if self.bars == 1 else self.later
        if side is None:
            return []
        return [Signal(bar.ts, self.name, bar.symbol, side, Decimal(repr(bar.close)), "ownership test")]


def test_another_strategys_sell_never_closes_a_position_and_its_buy_is_refused_with_a_reason(tmp_path):
    paths = make_home(tmp_path, {}, bars=20, symbols=("SPY",))
    engine, store, _, _ = build_engine(paths.root, 1000)
    seller = OneBuyThen("mid", "sell")
    seller.bars = 1  # mid never buys: it only says sell, then (below) buy
    engine.strategies = [OneBuyThen("open", None), seller]
    engine.run()
    assert store.query("SELECT side, strategy FROM paper_orders") == [("buy", "open")]
    assert engine.portfolio.positions["SPY"][2] == "open" and engine.flat_sells == 20
    buyer_paths = make_home(tmp_path / "b", {}, bars=20, symbols=("SPY",))
    engine, store, _, _ = build_engine(buyer_paths.root, 1000)
    engine.strategies = [OneBuyThen("open", None), OneBuyThen("mid", "buy")]
    engine.run()
    assert store.query("SELECT side, strategy FROM paper_orders") == [("buy", "open")]
    refused = [v for v in engine.view.verdicts if v.module == "engine"]
    assert refused and all(not v.allow and v.reason == "SPY is held by open" for v in refused)
