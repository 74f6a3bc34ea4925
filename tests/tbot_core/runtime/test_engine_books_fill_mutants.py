"""The engine's bookkeeping after the broker's news (``engine_books.py``), in-process on real parts
(``engine_mutant_kit.Kit``): what each session strategy is told it holds, the cursor saved at a fill, the round
trips that reach the tuning figures, the gate log's and the real broker's ledger beats, and the errors recorded
when a write fails while trading goes on.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from types import MappingProxyType
from typing import Any

from tbot_core.brokers.base import Position
from tbot_core.runtime.engine import CURSOR_FLUSH_BARS, EngineState
from tbot_core.strategies.base import Strategy
from tests.tbot_core.runtime.engine_kit import AllowAll
from tests.tbot_core.runtime.engine_mutant_kit import Recording, make_kit


class Told(Strategy):
    """A real ``Strategy`` (the engine tells only those what they hold) that never signals and keeps what it is told."""

    def __init__(self, name: str) -> None:
        super().__init__()
        self.name = name  # type: ignore[misc]
        self.told: list[frozenset[str]] = []

    def decide(self, bar: Any, vix: Any, state: Any, when: Any) -> list[Any]:
        return []

    def holdings_told(self, symbols: Iterable[str]) -> None:
        super().holdings_told(symbols)
        self.told.append(frozenset(symbols))


def _position(symbol: str, qty: int) -> Position:
    """A position the account read reports, priced at 100 so the books can value it."""
    return Position(symbol, Decimal(qty), Decimal("100"), Decimal("100"))


def test_each_strategy_is_told_the_symbols_it_opened_and_still_holds_and_one_holding_nothing_is_told_so(tmp_path):
    mid, close, opening = Told("mid"), Told("close"), Told("open")
    kit = make_kit(tmp_path, bars=1, also=(mid, close, opening))
    held = [_position("SPY", 1), _position("MSFT", 0), _position("AAPL", 5)]  # MSFT's position is closed: qty 0
    kit.broker.rewrite["positions"] = lambda _answer: held
    kit.broker.rewrite["position_strategies"] = lambda _answer: {"SPY": "mid", "MSFT": "mid", "AAPL": "close"}
    kit.engine.run()
    assert mid.told[0] == {"SPY"} and close.told[0] == {"AAPL"} and opening.told[0] == frozenset()
    assert mid.holds("SPY") and not mid.holds("MSFT") and not opening.holds("SPY")


def test_a_fill_saves_the_cursor_at_once_even_on_the_first_bar(tmp_path):
    seen: list[tuple[str | None, int]] = []

    def decide(i, bar):
        seen.append(kit.store.cursor())
        return "buy" if i == 0 else None  # a market order: filled as it is submitted

    kit = make_kit(tmp_path, decide, bars=2)
    kit.engine.run()
    assert [p.symbol for p in kit.engine.view.positions] == ["SPY"]
    assert seen == [(None, 0), ("2026-01-05T14:30:00.000000Z", 0)], "saved when the fill was read, mid-bar"


def test_after_a_save_the_next_one_by_count_comes_a_full_500_bars_later(tmp_path):
    seen: dict[int, int] = {}

    def decide(i, bar):
        if i in (CURSOR_FLUSH_BARS - 1, CURSOR_FLUSH_BARS, CURSOR_FLUSH_BARS + 1):
            seen[i] = kit.store.cursor()[1]
        if i == 0:
            kit.clock.now += 0.6  # a timed save at the end of bar 0

    kit = make_kit(tmp_path, decide, bars=CURSOR_FLUSH_BARS + 2)
    kit.engine.run()
    assert seen == {CURSOR_FLUSH_BARS - 1: 1, CURSOR_FLUSH_BARS: 1, CURSOR_FLUSH_BARS + 1: CURSOR_FLUSH_BARS + 1}


def test_the_gate_log_is_written_once_a_full_second_has_passed(tmp_path):
    gate = Recording(allow=False)
    seen: list[int] = []

    def decide(i, bar):
        seen.append(gate.flushes)
        if i == 0:
            kit.clock.now += 1.0  # exactly the gate log's beat

    kit = make_kit(tmp_path, decide, bars=2, gate=gate)
    kit.engine.run()
    assert seen == [0, 1]


class Trades(AllowAll):
    """A gate that keeps the round trips it is told of; its tuning view counts them per strategy."""

    def __init__(self) -> None:
        self.trades: list[tuple[str, Decimal, float]] = []

    def record_trade(self, strategy: str, pnl: Decimal, duration_s: float) -> None:
        self.trades.append((strategy, pnl, duration_s))

    def tuning_view(self) -> Mapping[str, Any]:
        counts: dict[str, int] = {}
        for strategy, _pnl, _duration in self.trades:
            counts[strategy] = counts.get(strategy, 0) + 1
        return MappingProxyType(counts)


def test_a_closed_round_trip_reaches_the_tuning_figures_and_the_published_view(tmp_path):
    gate = Trades()
    kit = make_kit(tmp_path, lambda i, bar: {0: "buy", 2: "sell"}.get(i), bars=5, gate=gate)
    kit.engine.run()
    (trade,) = gate.trades
    strategy, pnl, duration = trade
    assert kit.engine.portfolio.positions == {} and pnl != 0
    assert (strategy, pnl, duration) == ("mid", Decimal(kit.engine.portfolio.cash_cents - 100_000_00) / 100, 120.0)
    assert dict(kit.engine.view.tuning) == {"mid": 1}, "the view published after the fill shows the trip"


def test_fills_that_cannot_be_read_are_recorded_naming_the_tuning_figures_and_trading_goes_on(tmp_path):
    kit = make_kit(tmp_path, bars=2)
    kit.broker.fail["fills_since"] = [ConnectionResetError("fills feed reset")]
    kit.engine.run()
    assert kit.engine.state is EngineState.FEED_ENDED
    (error,) = kit.log("error", "error_handler")
    assert error["context"]["context"] == {"where": "reading fills for the tuning figures"}
    assert "fills feed reset" in str(error)


def test_a_real_broker_is_read_back_into_the_books_every_30_seconds_of_trading(tmp_path):
    reads: list[int] = []

    def decide(i, bar):
        reads.append(kit.broker.calls.count("fills_since"))
        kit.clock.now += 15.0  # the cursor is saved at each bar's end; the books are synced every other one

    kit = make_kit(tmp_path, decide, bars=4, live=True)
    kit.engine.run()
    assert reads == [1, 1, 2, 2]  # once at start, then at 30 s (exactly) and not at 45 s
    assert kit.broker.calls.count("fills_since") == 3  # and at 60 s; nothing more at the end, no time has passed


def test_the_paper_broker_is_never_synced_on_a_beat(tmp_path):
    kit = make_kit(tmp_path, lambda i, bar: setattr(kit.clock, "now", kit.clock.now + 15.0), bars=4)
    kit.engine.run()
    assert kit.broker.calls.count("fills_since") == 1  # at start only: its fills are read when they happen
