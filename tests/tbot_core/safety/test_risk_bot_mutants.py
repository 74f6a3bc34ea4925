"""The risk bot's every limit, at its boundary: one share over is refused, exactly at the limit is allowed.

Built from a real home's settings; equity 100,000 and a per-trade cap of 10 % keep the numbers round.
"""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.safety.risk_bot import Holding, RiskBot, RiskDecision

D = Decimal
EQUITY = D("100000")
LIMITS = {
    "SYMBOLS": "SPY,AAPL,MSFT,NVDA,AMD,TSLA,QQQ",
    "MAX_RISK_PER_TRADE": "0.1",
    "MAX_OPEN_POSITIONS": "4",
    "MAX_GROSS_EXPOSURE": "1.0",
    "ALLOC_OPEN": "0.3",
    "ALLOC_MID": "0.4",
    "ALLOC_CLOSE": "0.3",
    "DEFENSE_MODE_FACTOR": "0.5",
}


@pytest.fixture(scope="module")
def risk(tmp_path_factory) -> RiskBot:
    """One real home's settings for the whole module: the risk bot only reads them."""
    paths, _ = init_home(tmp_path_factory.mktemp("risk") / "home")
    return RiskBot(BotHome(str(paths.root)).settings.with_values(LIMITS))


def _buy(
    risk: RiskBot, holdings=None, *, symbol="SPY", price="100", strategy="mid", equity=EQUITY, defense=False
) -> RiskDecision:
    return risk.check(
        strategy=strategy,
        symbol=symbol,
        side="buy",
        price=D(price),
        equity=equity,
        holdings=holdings or {},
        defense=defense,
    )


def _held(value: str, strategy: str = "open", qty: int = 10) -> Holding:
    return Holding(qty, D(value), strategy)


# -- the limits themselves --------------------------------------------------------------------------------------
def test_limits_are_the_settings_outside_defense_mode(risk):
    limits = risk.limits(False)
    assert (limits.per_trade, limits.max_positions, limits.gross) == (D("0.1"), 4, D("1.0"))
    assert limits.alloc == {"open": D("0.3"), "mid": D("0.4"), "close": D("0.3")}


def test_defense_mode_multiplies_every_limit_by_the_factor(risk):
    limits = risk.limits(True)
    assert (limits.per_trade, limits.max_positions, limits.gross) == (D("0.05"), 2, D("0.5"))
    assert limits.alloc == {"open": D("0.15"), "mid": D("0.2"), "close": D("0.15")}


# -- refusals before any limit ----------------------------------------------------------------------------------
def test_a_symbol_outside_symbols_is_refused(risk):
    assert _buy(risk, symbol="ZZZZ") == RiskDecision(False, "symbol 'ZZZZ' is not in SYMBOLS")


def test_a_side_other_than_buy_or_sell_is_refused(risk):
    decision = risk.check(
        strategy="mid", symbol="SPY", side="short", price=D("100"), equity=EQUITY, holdings={}, defense=False
    )
    assert decision == RiskDecision(False, "side 'short': expected buy or sell")


@pytest.mark.parametrize("price", [D("0"), D("-1"), D("NaN"), D("Infinity"), 100.0])
def test_a_price_that_is_not_a_positive_finite_decimal_is_refused(risk, price):
    decision = risk.check(
        strategy="mid", symbol="SPY", side="buy", price=price, equity=EQUITY, holdings={}, defense=False
    )
    assert decision == RiskDecision(False, f"price {price!r}: expected a positive finite decimal")


@pytest.mark.parametrize("equity", ["0", "-5"])
def test_no_positive_equity_refuses_every_order(risk, equity):
    assert _buy(risk, equity=D(equity)) == RiskDecision(False, f"equity {equity} is not positive")


def test_a_second_buy_in_a_symbol_already_held_is_refused(risk):
    assert _buy(risk, {"SPY": _held("1000")}) == RiskDecision(False, "buy SPY: a position is already open")


def test_a_strategy_without_an_allocation_is_refused(risk):
    assert _buy(risk, strategy="overnight") == RiskDecision(
        False, "strategy 'overnight' has no allocation (ALLOC_OPEN/MID/CLOSE)"
    )


# -- exits ------------------------------------------------------------------------------------------------------
def test_a_sell_of_a_held_position_exits_all_of_it_even_with_every_limit_exceeded(risk):
    over = {f"S{i}": _held("90000", "mid") for i in range(6)} | {"AAPL": _held("5000", "mid", qty=37)}
    decision = risk.check(
        strategy="close", symbol="AAPL", side="sell", price=D("1"), equity=D("1"), holdings=over, defense=True
    )
    assert decision == RiskDecision(True, "exit 37 AAPL", 37)


def test_a_sell_of_a_single_held_share_is_allowed(risk):
    decision = risk.check(
        strategy="mid",
        symbol="SPY",
        side="sell",
        price=D("100"),
        equity=EQUITY,
        holdings={"SPY": _held("100", "mid", qty=1)},
        defense=False,
    )
    assert decision == RiskDecision(True, "exit 1 SPY", 1)


@pytest.mark.parametrize("holdings", [{}, {"SPY": Holding(0, D("0"), "mid")}, {"SPY": Holding(-3, D("0"), "mid")}])
def test_a_sell_with_nothing_held_is_refused_long_only(risk, holdings):
    decision = risk.check(
        strategy="mid", symbol="SPY", side="sell", price=D("100"), equity=EQUITY, holdings=holdings, defense=False
    )
    assert decision == RiskDecision(False, "sell SPY: no position held (long only)")


# -- per-trade cap ----------------------------------------------------------------------------------------------
def test_an_allowed_buy_is_sized_down_to_whole_shares_under_the_per_trade_cap(risk):
    decision = _buy(risk, price="99.99")
    assert decision == RiskDecision(True, "buy 100 SPY (notional 9999.00 <= cap 10000.00)", 100)


def test_one_share_costing_exactly_the_cap_is_allowed_and_a_cent_more_buys_nothing(risk):
    assert _buy(risk, price="10000") == RiskDecision(True, "buy 1 SPY (notional 10000.00 <= cap 10000.00)", 1)
    assert _buy(risk, price="10000.01") == RiskDecision(False, "per-trade cap 10000.00 buys no share at 10000.01")


def test_defense_mode_halves_the_per_trade_cap(risk):
    assert _buy(risk, price="100", defense=True).qty == 50
    assert _buy(risk, price="5000.01", defense=True) == RiskDecision(
        False, "per-trade cap 5000.00 buys no share at 5000.01"
    )


# -- max open positions -----------------------------------------------------------------------------------------
def test_the_last_free_position_slot_is_allowed_and_a_full_book_refuses_a_new_entry(risk):
    three = {s: _held("100", "open") for s in ("AAPL", "MSFT", "NVDA")}
    assert _buy(risk, three).allow
    four = three | {"AMD": _held("100", "open")}
    assert _buy(risk, four) == RiskDecision(False, "4 open positions; max 4")


def test_defense_mode_halves_the_max_open_positions(risk):
    assert _buy(risk, {"AAPL": _held("100")}, defense=True).allow
    assert _buy(risk, {"AAPL": _held("100"), "MSFT": _held("100")}, defense=True) == RiskDecision(
        False, "2 open positions; max 2"
    )


# -- gross exposure ---------------------------------------------------------------------------------------------
def test_gross_exposure_up_to_exactly_the_limit_is_allowed_and_a_cent_over_is_refused(risk):
    # 90,000 held by other strategies + a 10,000 entry = 100,000 = 1.0 x equity.
    at_limit = {"AAPL": _held("45000", "open"), "MSFT": _held("45000", "close")}
    assert _buy(risk, at_limit) == RiskDecision(True, "buy 100 SPY (notional 10000.00 <= cap 10000.00)", 100)
    over = {"AAPL": _held("45000", "open"), "MSFT": _held("45000.01", "close")}
    assert _buy(risk, over) == RiskDecision(False, "gross exposure 100000.01 would exceed 100000.00")


def test_gross_exposure_counts_every_strategys_holdings(risk):
    over = {"AAPL": _held("30000", "open"), "MSFT": _held("30000", "close"), "NVDA": _held("30000.01", "close")}
    assert _buy(risk, over) == RiskDecision(False, "gross exposure 100000.01 would exceed 100000.00")


def test_defense_mode_halves_the_gross_exposure_limit(risk):
    # defense: 5,000 entry (50 shares at 100); 45,000 + 5,000 = 50,000 = 0.5 x equity.
    assert _buy(risk, {"AAPL": _held("45000", "open")}, defense=True).allow
    assert _buy(risk, {"AAPL": _held("45000.01", "open")}, defense=True) == RiskDecision(
        False, "gross exposure 50000.01 would exceed 50000.00"
    )


# -- strategy allocation ----------------------------------------------------------------------------------------
def test_a_strategy_may_fill_exactly_its_allocation_and_not_a_cent_more(risk):
    # mid: 0.4 x 100,000 = 40,000; 30,000 held by mid + a 10,000 entry.
    assert _buy(risk, {"AAPL": _held("30000", "mid")}).allow
    assert _buy(risk, {"AAPL": _held("30000.01", "mid")}) == RiskDecision(
        False, "strategy mid allocation 40000.00 would be exceeded (40000.01)"
    )


def test_an_allocation_counts_only_that_strategys_holdings(risk):
    others = {"AAPL": _held("30000", "open"), "MSFT": _held("29000", "close")}
    assert _buy(risk, others, strategy="mid").allow  # 59,000 held, none by mid
    mine = {"AAPL": _held("20000", "mid"), "MSFT": _held("10000.01", "mid")}
    assert _buy(risk, mine, strategy="mid") == RiskDecision(
        False, "strategy mid allocation 40000.00 would be exceeded (40000.01)"
    )


def test_each_strategy_is_held_to_its_own_allocation(risk):
    held = {"AAPL": _held("20000.01", "open")}
    assert _buy(risk, held, strategy="open") == RiskDecision(
        False, "strategy open allocation 30000.00 would be exceeded (30000.01)"
    )
    assert _buy(risk, {"AAPL": _held("20000.01", "close")}, strategy="close") == RiskDecision(
        False, "strategy close allocation 30000.00 would be exceeded (30000.01)"
    )
    assert _buy(risk, held, strategy="close").allow


def test_defense_mode_halves_the_allocation(risk):
    # defense: mid 0.2 x 100,000 = 20,000; 15,000 held + a 5,000 entry.
    assert _buy(risk, {"AAPL": _held("15000", "mid")}, defense=True).allow
    assert _buy(risk, {"AAPL": _held("15000.01", "mid")}, defense=True) == RiskDecision(
        False, "strategy mid allocation 20000.00 would be exceeded (20000.01)"
    )


# -- self-check -------------------------------------------------------------------------------------------------
def test_self_check_passes_and_states_the_limits(risk):
    result = risk.self_check()
    assert result.ok and result.module == "risk_bot"
    assert result.detail == "per-trade 0.1, max positions 4, gross 1.0, defense factor 0.5"


def test_self_check_fails_with_no_symbols_to_trade(risk):
    empty = RiskBot(dataclasses.replace(risk.settings, symbols=()))
    result = empty.self_check()
    assert not result.ok and result.module == "risk_bot" and result.detail == "SYMBOLS is empty: nothing may be traded"
    assert result.hint == "set SYMBOLS=AAPL,MSFT,..."


@pytest.mark.parametrize("field", ["max_risk_per_trade", "max_gross_exposure"])
def test_self_check_fails_on_a_limit_that_is_not_finite(risk, field):
    broken = RiskBot(dataclasses.replace(risk.settings, **{field: D("Infinity")}))
    result = broken.self_check()
    assert not result.ok and result.module == "risk_bot" and result.detail == "risk limits are not finite"
