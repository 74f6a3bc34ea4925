"""The gate's records, in-process and exact (mutmut sees these): every verdict reaches the strategy log (JSON or
CSV), the tuning tracker's counts agree with the decisions, the offline gate (backtests) decides the same and
writes nothing, and the fundamentals guard reads the gate's own source.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from decimal import Decimal

from tbot_core.config import Settings
from tbot_core.data.finnhub import FinnhubFundamentals
from tbot_core.enhancements.black_scholes_filter import bsm_price
from tbot_core.errors import ConfigError
from tbot_core.gate import Gate
from tbot_core.signals import MarketContext, OptionQuote, Signal
from tests.tbot_core.enhancements.helpers import IDENTITY, WINTER_TS, signal, snap
from tests.tbot_core.gate_kit import GOOD_MID, audit, gate, modules, strategy_log

__all__ = ["audit", "gate"]  # fixtures


# -- logs and tuning ----------------------------------------------------------------------------------------------
def test_every_verdict_reaches_the_strategy_log_on_flush(gate, home_paths):
    gate.decide(signal(), GOOD_MID)
    gate.decide(signal(side="hold"), GOOD_MID)
    assert strategy_log(home_paths) == "", "buffered until flushed"
    gate.flush()
    rows = [json.loads(line) for line in strategy_log(home_paths).splitlines()]
    assert [(r["module"], r["allow"]) for r in rows] == [
        ("ticker_blocklist", True),
        ("adx_filter", True),
        ("bollinger_confluence", True),
        ("black_scholes_filter", True),
        ("signal", False),
    ]


def test_a_csv_gate_writes_a_csv_strategy_log_and_close_flushes(home_paths):
    gate = Gate(Settings().with_values({"LOG_FORMAT": "CSV"}), IDENTITY, home_paths, audit=None, broker_code="paper")
    gate.decide(signal(), GOOD_MID)
    gate.close()
    lines = strategy_log(home_paths, "CSV").splitlines()
    assert lines[0] == "ts_utc,strategy,symbol,side,module,allow,reason,context,latency_us" and len(lines) == 5


def test_the_tracker_counts_signals_allowed_and_blocks_by_module_and_records_trades(home_paths):
    day = datetime(2026, 1, 6, 15, 30, tzinfo=UTC)
    gate = Gate(Settings(), IDENTITY, home_paths, audit=None, broker_code="paper", clock=lambda: day)
    gate.decide(signal(), GOOD_MID)
    gate.order_sent(signal())
    gate.decide(signal(symbol="MSFT"), MarketContext({"MSFT": snap(close=97.0, adx=40.0)}))
    gate.decide(signal(), GOOD_MID)
    gate.record_trade("mid", Decimal("10"), 60.0)
    gate.record_trade("mid", Decimal("-4"), 120.0)
    gate.record_trade("mid", Decimal("1"), 30.0)
    tuning = gate.tuning()["mid"]
    assert (tuning["signals"], tuning["allowed"], tuning["blocks"]) == (3, 1, {"adx_filter": 1, "ticker_blocklist": 1})
    assert (tuning["trades"], tuning["pnl"], tuning["max_drawdown"], tuning["win_rate"]) == (3, "7", "4", "0.6667")
    view = gate.tuning_view()["mid"]
    assert (view.trades, view.win_rate, view.realized_pnl, view.max_drawdown) == (
        3,
        Decimal("0.6667"),
        Decimal("7"),
        Decimal("4"),
    )
    assert dict(view.blocks) == {"adx_filter": 1, "ticker_blocklist": 1} and view.avg_duration_s == 70.0
    gate.flush()
    summary = json.loads(home_paths.tuning_summary(IDENTITY.BOT_IDENTITY).read_text())
    assert summary["written_utc"] == "2026-01-06T15:30:00.000000Z" and summary["strategies"]["mid"]["trades"] == 3


def test_tuning_view_lists_strategies_in_order_with_no_win_rate_before_a_trade(gate):
    assert dict(gate.tuning_view()) == {}
    gate.decide(signal("open", symbol="Z"), MarketContext())
    gate.decide(signal(), GOOD_MID)
    view = gate.tuning_view()
    assert list(view) == ["mid", "open"] and view["open"].win_rate is None and view["open"].trades == 0


def test_a_disabled_tracker_records_nothing(home_paths):
    settings = Settings().with_values({"TUNING_TRACKER_ENABLED": "false"})
    gate = Gate(settings, IDENTITY, home_paths, audit=None, broker_code="paper")
    gate.decide(signal(), GOOD_MID)
    gate.record_trade("mid", Decimal("5"), 60.0)
    assert gate.tuning() == {}
    gate.flush()
    assert not home_paths.tuning_summary(IDENTITY.BOT_IDENTITY).exists()


def test_the_offline_gate_decides_the_same_but_writes_no_file(home_paths):
    gate = Gate.offline(Settings(), IDENTITY, home_paths)
    assert gate.audit is None and gate.log is None
    assert gate.decide(signal(), GOOD_MID).allow
    gate.order_sent(signal())
    assert not gate.decide(signal(), GOOD_MID).allow, "the blocklist still remembers in memory"
    gate.record_trade("mid", Decimal("1"), 60.0)
    gate.flush()
    assert strategy_log(home_paths) == ""
    assert not home_paths.tuning_summary(IDENTITY.BOT_IDENTITY).exists()
    assert not home_paths.session_file.exists()


def test_the_offline_gate_prices_options_with_its_identitys_rate(home_paths):
    gate = Gate.offline(Settings(), IDENTITY, home_paths)
    fair = bsm_price(100, 100, 1, 0.045, 0.2, "call")
    market = MarketContext(
        {"AAPL": snap(close=97.0)}, option_quotes={"AAPL": OptionQuote("call", fair, 100, 100, 1, 0.2)}
    )
    decision = gate.decide(signal(), market)
    verdict = decision.verdicts[-1]
    assert decision.allow and verdict.module == "black_scholes_filter" and "failed" not in verdict.reason
    assert verdict.context["rate"] == 0.045


def test_an_offline_gate_follows_the_configured_broker(home_paths):
    gate = Gate.offline(Settings().with_values({"BROKER": "ibkr"}), IDENTITY, home_paths)
    assert "imbalance_scanner_ibkr" in modules(gate.decide(signal("close"), MarketContext(vix=20.0)))


# -- fundamentals -------------------------------------------------------------------------------------------------
def test_the_gate_hands_its_fundamentals_source_to_the_guard(home_paths):
    day = datetime(2026, 1, 5, 15, tzinfo=UTC)  # another day than the gate's clock: only this source has its cache
    home_paths.cache_dir.mkdir(parents=True, exist_ok=True)
    facts = {"symbol": "AAPL", "pe": 20.0, "debt_equity": 0.5, "market_cap_usd": 3e12, "as_of": "2026-01-05"}
    home_paths.fundamentals_cache(day.date()).write_text(json.dumps({"AAPL": facts}))

    def no_key(paths):
        raise ConfigError("no screener_api secret in this test")

    source = FinnhubFundamentals(Settings(), home_paths, clock=lambda: day, api_key=no_key)
    settings = Settings().with_values({"FUNDAMENTAL_GUARD_ENABLED": "true"})
    gate = Gate(
        settings, IDENTITY, home_paths, audit=None, broker_code="paper", fundamentals=source, clock=lambda: WINTER_TS
    )
    decision = gate.decide(signal("open"), MarketContext())
    assert decision.allow and modules(decision) == [
        "ticker_blocklist",
        "finnhub_fundamental_guard",
        "black_scholes_filter",
    ]
    assert decision.verdicts[1].context["pe"] == 20.0


def test_gate_decisions_are_of_the_signal_given(gate):
    sig = Signal(WINTER_TS, "mid", "AAPL", "buy", Decimal("100"), "r", {})
    assert gate.decide(sig, GOOD_MID).allow
