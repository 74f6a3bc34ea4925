"""Each filter bites: a live-engine backtest with only that module on blocks what it should, and with it off does not.

A filter that silently allowed everything (a broken toggle, a context that
never reaches it, a threshold compared the wrong way) would pass every test
that only checks it *can* block.  So each filter gets generated data it must
refuse (``filter_data.py``), one backtest with ``--filters=<module>`` (exactly
that module on) and one with it off, through ``tbot_core.backtest`` and the
live engine (real paper home, replay feed, paper broker).

Not every filter can bite in a backtest, and the tests say which:
``black_scholes_filter`` judges option quotes and the strategies trade equities
(the backtest shows it passes them; the gate test shows it blocks a bad quote
from the data layer's context); ``imbalance_scanner_ibkr`` is active only with
``BROKER=ibkr`` and backtests replay on the paper broker without imbalance data
(tested through the gate with a context); ``ticker_blocklist`` is always on
(seed), so its "off" is the count of entries it refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tbot_core.backtest.backtest_engine import main
from tbot_core.backtest.filtering import toggled_settings
from tbot_core.config import Settings
from tbot_core.data.market import MarketData
from tbot_core.gate import Gate
from tbot_core.home import BotHome
from tbot_core.paths import HomePaths
from tbot_core.signals import Imbalance, OptionQuote, Signal
from tests.tbot_core.backtest.filter_data import DAYS, breakout, climb, staircase, wave, write_home_data

SPAN = (f"--start={DAYS[0]}", f"--end={DAYS[-1]}", "--data_source=CSV")
# The symbols are among a fresh home's SYMBOLS (the risk bot refuses any other); each test gives them its own shape.


def _backtest(paths: HomePaths, strategy: str, *flags: str) -> dict:
    """One live-engine backtest in ``paths``; its run section (blocks and orders per strategy)."""
    assert main([f"--strategy={strategy}", *SPAN, "--home", str(paths.root), *flags]) == 0
    identity = BotHome(str(paths.root)).identity.BOT_IDENTITY
    return json.loads(paths.backtest_daily_summary(identity).read_text())["run"]


def _on_off(paths: HomePaths, strategy: str, module: str) -> tuple[dict, dict]:
    on = _backtest(paths, strategy, f"--filters={module}")
    off = _backtest(paths, strategy, "--no-filters")
    assert module in on["filters"][strategy] and module not in off["filters"][strategy]
    return on, off


def _blocks(run: dict, strategy: str, module: str) -> int:
    return run["blocks_per_strategy"][strategy].get(module, 0)


def _orders(run: dict, strategy: str) -> int:
    return run["orders_per_strategy"][strategy]


@pytest.mark.parametrize(
    ("module", "shapes"),
    [
        ("adx_filter", {"AAPL": staircase}),  # every buy is inside a strong trend
        ("bollinger_confluence", {"AMZN": wave}),  # every buy closes above the lower band
    ],
)
def test_a_mid_session_filter_on_blocks_the_entries_its_data_was_made_for_and_off_lets_them_trade(
    home_paths, module, shapes
):
    write_home_data(home_paths, shapes, spread=0.05 if module == "adx_filter" else 0.01)
    on, off = _on_off(home_paths, "mid", module)
    assert _blocks(on, "mid", module) >= len(DAYS)  # at least each session's first entry
    assert _blocks(off, "mid", module) == 0
    assert _orders(on, "mid") == 0 < _orders(off, "mid")


def test_vix_gatekeeper_on_blocks_close_entries_on_the_quiet_day_only_and_off_trades_both(home_paths):
    write_home_data(home_paths, {"SPY": climb}, vix={DAYS[0]: 12.0, DAYS[1]: 21.0})  # threshold 15
    on, off = _on_off(home_paths, "close", "vix_gatekeeper")
    assert _blocks(on, "close", "vix_gatekeeper") == 1 and _blocks(off, "close", "vix_gatekeeper") == 0
    assert _orders(on, "close") == 1 < _orders(off, "close")


def test_vix_gatekeeper_with_no_vix_data_blocks_every_close_entry_as_a_failed_source(home_paths):
    write_home_data(home_paths, {"SPY": climb})
    home_paths.sample_vix.write_text("timestamp_utc,vix\n")  # the backtest replays without any VIX level
    on = _backtest(home_paths, "close", "--filters=vix_gatekeeper")
    assert _blocks(on, "close", "vix_gatekeeper") == len(DAYS) and _orders(on, "close") == 0


def test_fundamental_guard_on_blocks_the_overpriced_stock_from_the_point_in_time_file_and_off_trades_it(home_paths):
    write_home_data(
        home_paths,
        {"META": breakout, "AAPL": breakout},
        fundamentals=[
            ("2026-01-02", "META", "180", "0.2", "50000000000"),  # PE 180 > MAX_PE_RATIO 50
            ("2026-01-02", "AAPL", "20", "0.5", "90000000000"),
        ],
    )
    on, off = _on_off(home_paths, "open", "finnhub_fundamental_guard")
    assert _blocks(on, "open", "finnhub_fundamental_guard") == len(DAYS)  # META, once per session
    assert _blocks(off, "open", "finnhub_fundamental_guard") == 0
    assert _orders(on, "open") < _orders(off, "open")
    assert _orders(on, "open") > 0  # AAPL still trades: the guard judged each ticker, not the run


def test_ticker_blocklist_refuses_every_second_entry_of_a_ticker_in_one_session(home_paths):
    """Always on (the seed): with every other filter off, each session's first entry trades and the rest are refused."""
    write_home_data(home_paths, {"AAPL": staircase})
    run = _backtest(home_paths, "mid", "--no-filters")
    assert run["filters"]["mid"] == ["ticker_blocklist"]
    refused, signals, orders = (
        _blocks(run, "mid", "ticker_blocklist"),
        run["signals_per_strategy"]["mid"],
        _orders(run, "mid"),
    )
    assert refused > 0 and signals - refused == orders  # nothing else refused a signal
    assert orders <= 2 * len(DAYS)  # per session one entry (and its exit) got through


def test_black_scholes_filter_on_lets_equity_entries_through_in_a_backtest(home_paths):
    """Not applicable to a backtest's equity orders: switched on, it must not cost a single trade."""
    write_home_data(home_paths, {"GOOGL": breakout})
    on, off = _on_off(home_paths, "open", "black_scholes_filter")
    assert _blocks(on, "open", "black_scholes_filter") == 0
    assert _orders(on, "open") == _orders(off, "open") > 0


# -- through the gate, with the context the data layer assembles --------------------------------------------
WINDOW_TS = datetime(2026, 1, 6, 20, 45, tzinfo=UTC)  # inside the winter imbalance window 20:30-21:00 UTC


class _Reports:
    """An imbalance source (the seam ``ImbalanceSource``): a fixed report per symbol."""

    def __init__(self, reports: dict[str, Imbalance]) -> None:
        self.reports = reports

    def imbalance(self, symbol: str, ts: datetime) -> Imbalance | None:
        return self.reports.get(symbol)


def _gate(home_paths: HomePaths, only: list[str], broker: str) -> Gate:
    """The gate as a ``--filters`` backtest builds it: exactly ``only`` switched on."""
    settings = toggled_settings(Settings(), only)
    home = BotHome(str(home_paths.root))
    return Gate(settings, home.identity, home_paths, audit=None, broker_code=broker, persist=False)


def _entry(strategy: str, symbol: str, ts: datetime = WINDOW_TS, **context) -> Signal:
    return Signal(ts, strategy, symbol, "buy", Decimal("100"), "test entry", context)


def _decide(gate: Gate, market: MarketData, signal: Signal):
    market.at(signal.ts)
    return gate.decide(signal, market.context(signal))


@pytest.mark.parametrize("on", [True, False])
def test_imbalance_scanner_blocks_an_entry_against_a_strong_opposing_imbalance_only_when_on(home_paths, on):
    gate = _gate(home_paths, ["imbalance_scanner_ibkr"] if on else [], broker="ibkr")
    selling = Imbalance(WINDOW_TS, "sell", shares=500.0, paired=1000.0)  # 0.5x paired > IMBALANCE_BLOCK_RATIO 0.25
    market = MarketData(vix=None, imbalance=_Reports({"AAPL": selling}))
    decision = _decide(gate, market, _entry("close", "AAPL"))
    blockers = [v.module for v in decision.verdicts if not v.allow]
    assert (blockers == ["imbalance_scanner_ibkr"]) is on and decision.allow is not on


def test_imbalance_scanner_blocks_inside_the_window_while_the_seam_delivers_nothing(home_paths):
    """Today no broker delivers imbalance reports (the seam answers None): IMBALANCE_SCANNER_FATAL=true blocks."""
    gate = _gate(home_paths, ["imbalance_scanner_ibkr"], broker="ibkr")
    decision = _decide(gate, MarketData(vix=None), _entry("close", "AAPL"))
    assert not decision.allow and "no imbalance data" in decision.reason


@pytest.mark.parametrize(("price", "on", "allowed"), [(25.0, True, False), (10.45, True, True), (25.0, False, True)])
def test_black_scholes_filter_blocks_an_option_quote_far_from_its_model_value_only_when_on(
    home_paths, price, on, allowed
):
    gate = _gate(home_paths, ["black_scholes_filter"] if on else [], broker="paper")
    quote = OptionQuote("call", price=price, spot=100.0, strike=100.0, years=1.0, vol=0.2)  # BSM ~10.45 at 5%
    decision = _decide(gate, MarketData(vix=None), _entry("open", "AAPL", option_quote=quote))
    assert decision.allow is allowed
    if not allowed:
        assert [v.module for v in decision.verdicts if not v.allow] == ["black_scholes_filter"]
