"""The gate, in-process and exact (mutmut sees these): which checks each strategy's signal meets and in which
order, the first block wins, exits skip entry filters, a failing module is audited, and the counters, the
strategy log and the tuning numbers agree with the decisions.

Real modules from the registry over a real home; fundamentals come from the real Finnhub source reading its
daily cache file, so no network is involved.
"""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tbot_core import gate as gate_module
from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.data.finnhub import FinnhubFundamentals
from tbot_core.enhancements.black_scholes_filter import bsm_price
from tbot_core.errors import ConfigError
from tbot_core.gate import Gate, signal_problem
from tbot_core.signals import MarketContext, OptionQuote, Signal
from tbot_core.state_schema import EnhancementStatus
from tests.tbot_core.enhancements.helpers import IDENTITY, WINTER_TS, signal, snap

GOOD_MID = MarketContext({"AAPL": snap(close=97.0), "MSFT": snap(close=97.0)})
ENTRY = "allowed by {} check(s)"


@pytest.fixture
def audit(home_paths):
    with AuditLog(home_paths.audit_db) as log:
        yield log


@pytest.fixture
def gate(home_paths, audit):
    return Gate(Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper")


def modules(decision) -> list[str]:
    return [v.module for v in decision.verdicts]


def strategy_log(home_paths, fmt: str = "JSON") -> str:
    path = home_paths.strategy_log(IDENTITY.BOT_IDENTITY, fmt)
    return path.read_text() if path.exists() else ""


# -- which checks ---------------------------------------------------------------------------------------------------
def test_each_strategy_meets_the_blocklist_then_its_own_enabled_filters_in_order(gate):
    mid = gate.decide(signal("mid"), GOOD_MID)
    assert mid.allow and modules(mid) == [
        "ticker_blocklist",
        "adx_filter",
        "bollinger_confluence",
        "black_scholes_filter",
    ]
    assert mid.reason == ENTRY.format(4)
    opening = gate.decide(signal("open", symbol="MSFT"), MarketContext())
    assert opening.allow and modules(opening) == ["ticker_blocklist", "black_scholes_filter"]
    closing = gate.decide(signal("close", symbol="IBM"), MarketContext(vix=20.0))
    assert closing.allow and modules(closing) == ["ticker_blocklist", "vix_gatekeeper", "black_scholes_filter"]
    reference = gate.decide(signal("sma_cross", symbol="NVDA"), MarketContext())
    assert reference.allow and modules(reference) == ["ticker_blocklist"] and reference.reason == ENTRY.format(1)


def test_a_disabled_filter_is_left_out_of_the_chain(home_paths):
    settings = Settings().with_values({"ADX_FILTER_ENABLED": "false"})
    gate = Gate(settings, IDENTITY, home_paths, audit=None, broker_code="paper")
    decision = gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0, adx=90.0)}))
    assert decision.allow and modules(decision) == ["ticker_blocklist", "bollinger_confluence", "black_scholes_filter"]


def test_the_imbalance_scanner_joins_the_close_chain_on_ibkr_whatever_the_spelling(home_paths):
    gate = Gate(Settings(), IDENTITY, home_paths, audit=None, broker_code="IBKR")
    decision = gate.decide(signal("close"), MarketContext(vix=20.0))
    assert modules(decision)[:3] == ["ticker_blocklist", "vix_gatekeeper", "imbalance_scanner_ibkr"]
    status = {row.module: row for row in gate.enhancement_status()}
    assert status["imbalance_scanner_ibkr"].enabled is True


def test_the_chain_of_a_strategy_is_built_once(gate, monkeypatch):
    gate.decide(signal(), GOOD_MID)
    monkeypatch.setattr(type(gate.modules["adx_filter"]), "is_filter", False)
    assert modules(gate.decide(signal(symbol="MSFT"), GOOD_MID))[1] == "adx_filter"


# -- the first block wins -----------------------------------------------------------------------------------------
def test_the_first_blocking_filter_ends_the_chain_and_gives_the_reason(gate):
    decision = gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0, adx=40.0)}))
    assert not decision.allow and modules(decision) == ["ticker_blocklist", "adx_filter"]
    assert [v.allow for v in decision.verdicts] == [True, False]
    assert decision.reason == f"adx_filter: {decision.verdicts[1].reason}" and "ADX 40.0 > 25" in decision.reason


def test_an_allowed_entry_uses_up_its_ticker_for_the_session_and_a_blocked_one_does_not(gate):
    assert not gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0, adx=40.0)})).allow
    assert gate.decide(signal(), GOOD_MID).allow, "the blocked signal did not use the ticker"
    assert gate.decide(signal(), GOOD_MID).allow, "an allowed signal whose order was never sent uses nothing"
    gate.order_sent(signal())
    again = gate.decide(signal("open"), MarketContext())
    assert not again.allow and modules(again) == ["ticker_blocklist"]
    assert again.reason.startswith("ticker_blocklist: AAPL already used this session (mid buy at")


# -- exits --------------------------------------------------------------------------------------------------------
def test_an_exit_passes_one_check_and_never_touches_the_blocklist(gate):
    exit_ = gate.decide(signal(side="sell"), MarketContext())
    assert exit_.allow and exit_.reason == ENTRY.format(1)
    [verdict] = exit_.verdicts
    assert (verdict.module, verdict.allow, verdict.context, verdict.latency_us) == ("signal", True, {}, 0.0)
    assert verdict.reason == "exit: entry filters do not apply to closing a position"
    assert gate.decide(signal(), GOOD_MID).allow, "the exit did not use the ticker"
    assert gate.decide(signal(side="sell"), MarketContext()).allow, "an exit is allowed after an entry too"


def test_an_unusable_exit_is_still_blocked(gate):
    decision = gate.decide(signal(side="sell", price="0"), MarketContext())
    assert not decision.allow and decision.reason == "signal: price Decimal('0'): expected a positive finite Decimal"


# -- unusable signals ---------------------------------------------------------------------------------------------
def test_an_unusable_signal_is_blocked_by_the_signal_check_before_any_filter(gate):
    decision = gate.decide(signal(side="hold"), GOOD_MID)
    assert not decision.allow and decision.reason == "signal: side 'hold': expected buy or sell"
    [verdict] = decision.verdicts
    assert (verdict.module, verdict.allow, verdict.context, verdict.latency_us) == ("signal", False, {}, 0.0)
    unknown = gate.decide(signal("nope"), GOOD_MID)
    assert unknown.reason == "signal: unknown strategy 'nope': no filters to apply" and modules(unknown) == ["signal"]
    unknown_exit = gate.decide(signal("nope", side="sell"), GOOD_MID)
    assert not unknown_exit.allow and unknown_exit.reason.startswith("signal: unknown strategy")


@pytest.mark.parametrize(
    "bad, problem",
    [
        ({"ts": datetime(2026, 1, 6, 16)}, "signal time is missing or not UTC"),
        ({"ts": "2026-01-06T16:00:00Z"}, "signal time is missing or not UTC"),
        ({"side": "BUY"}, "side 'BUY': expected buy or sell"),
        ({"symbol": ""}, "signal has no symbol"),
        ({"symbol": 7}, "signal has no symbol"),
        ({"price": 100.0}, "price 100.0: expected a positive finite Decimal"),
        ({"price": Decimal("Infinity")}, "price Decimal('Infinity'): expected a positive finite Decimal"),
        ({"price": Decimal("-0.01")}, "price Decimal('-0.01'): expected a positive finite Decimal"),
        ({"price": Decimal("0")}, "price Decimal('0'): expected a positive finite Decimal"),
    ],
)
def test_signal_problem_names_what_is_wrong(bad, problem):
    assert signal_problem(replace(signal(), **bad)) == problem


def test_a_sound_signal_has_no_problem_and_a_non_signal_is_named():
    assert signal_problem(signal(price="0.01")) is None
    assert signal_problem({"side": "buy"}) == "not a Signal (dict)"


# -- a module that raises -----------------------------------------------------------------------------------------
def _raise(message: str):
    def evaluate(sig, market):
        raise RuntimeError(message)

    return evaluate


def test_a_failing_module_is_audited_and_the_trade_proceeds_with_the_error_in_its_verdict(gate, audit):
    gate.modules["adx_filter"].evaluate = _raise("disk\n  on   fire " + "x" * 400)
    decision = gate.decide(signal(symbol="MSFT"), GOOD_MID)
    what = ("RuntimeError: disk on fire " + "x" * 400)[:300]
    assert decision.allow and modules(decision)[1] == "adx_filter"
    verdict = decision.verdicts[1]
    assert verdict.allow is True and verdict.context == {"error": what, "failure": "RuntimeError"}
    assert (
        verdict.reason
        == f"adx_filter failed ({what}); skipped (ADX_FILTER_FATAL=false): proceeding on core logic without it"
    )
    [row] = audit.tail(5, category="enhancement")
    assert (row.event, row.severity) == ("module_error", "error")
    assert row.context_dict() == {
        "module": "adx_filter",
        "kind": "RuntimeError",
        "fatal": False,
        "error": what,
        "strategy": "mid",
        "symbol": "MSFT",
        "side": "buy",
        "suppressed_before": 0,
        "window_minutes": 5.0,
    }


def test_a_failing_fatal_module_blocks_the_trade(home_paths, audit):
    fatal = Gate(
        Settings().with_values({"ADX_FILTER_FATAL": "true"}), IDENTITY, home_paths, audit=audit, broker_code="paper"
    )
    fatal.modules["adx_filter"].evaluate = _raise("boom")
    decision = fatal.decide(signal(), GOOD_MID)
    assert not decision.allow
    assert decision.reason == (
        "adx_filter: adx_filter failed (RuntimeError: boom); fatal module (ADX_FILTER_FATAL=true): trade blocked"
    )
    verdict = decision.verdicts[-1]
    assert (verdict.module, verdict.allow, verdict.context) == (
        "adx_filter",
        False,
        {"error": "RuntimeError: boom", "failure": "RuntimeError"},
    )
    assert verdict.allow is False
    assert audit.tail(1, category="enhancement")[0].context_dict()["fatal"] is True


def test_a_failing_module_with_no_audit_or_a_broken_audit_still_decides(home_paths, audit):
    offline = Gate(Settings(), IDENTITY, home_paths, audit=None, broker_code="paper")
    offline.modules["adx_filter"].evaluate = _raise("boom")
    assert offline.decide(signal(), GOOD_MID).allow
    closed = AuditLog(home_paths.audit_db)
    closed.close()
    broken = Gate(Settings(), IDENTITY, home_paths, audit=closed, broker_code="paper")
    broken.modules["adx_filter"].evaluate = _raise("boom")
    assert broken.decide(signal(symbol="MSFT"), GOOD_MID).allow


def test_module_status_counts_allowed_and_blocked_and_clears_an_error_once_the_module_works(gate):
    real = gate.modules["adx_filter"].evaluate
    gate.modules["adx_filter"].evaluate = _raise("boom")
    gate.decide(signal(symbol="A"), GOOD_MID)
    status = {row.module: row for row in gate.enhancement_status()}
    assert status["adx_filter"].status is EnhancementStatus.ERROR
    gate.modules["adx_filter"].evaluate = real
    gate.decide(signal(symbol="B"), MarketContext({"B": snap(close=97.0, adx=40.0)}))
    gate.decide(signal(symbol="C"), MarketContext({"C": snap(close=97.0)}))
    rows = gate.enhancement_status()
    assert [r.module for r in rows] == list(gate.modules)
    status = {row.module: row for row in rows}
    adx = status["adx_filter"]
    assert (adx.status, adx.allowed, adx.blocked, adx.enabled, adx.fatal) == (EnhancementStatus.OK, 2, 1, True, False)
    assert adx.last_reason == gate.decide(signal(symbol="D"), MarketContext({"D": snap(close=97.0)})).verdicts[1].reason
    blocklist = status["ticker_blocklist"]
    assert (blocklist.allowed, blocklist.blocked, blocklist.last_reason) == (3, 0, "C not yet used this session")
    guard = status["finnhub_fundamental_guard"]
    assert (guard.status, guard.enabled, guard.allowed, guard.blocked, guard.last_reason) == (
        EnhancementStatus.DISABLED,
        False,
        0,
        0,
        "",
    )
    assert status["build_check"].fatal is True


def test_every_enabled_module_starts_ok_with_nothing_counted(gate):
    rows = {row.module: row for row in gate.enhancement_status()}
    assert rows["adx_filter"].status is EnhancementStatus.OK and rows["ticker_blocklist"].status is EnhancementStatus.OK
    assert all((r.allowed, r.blocked, r.last_reason) == (0, 0, "") for r in rows.values())


def test_each_block_is_counted(gate):
    for symbol in ("A", "B", "C"):
        gate.decide(signal(symbol=symbol), MarketContext({symbol: snap(close=97.0, adx=40.0)}))
    adx = {row.module: row for row in gate.enhancement_status()}["adx_filter"]
    assert (adx.allowed, adx.blocked) == (0, 3)


def test_the_modules_get_the_broker_code_in_lower_case(home_paths):
    gate = Gate(Settings(), IDENTITY, home_paths, audit=None, broker_code="IBKR")
    assert {module.env.broker_code for module in gate.modules.values()} == {"ibkr"}


def test_a_verdicts_latency_is_the_modules_own_time_in_microseconds(gate, monkeypatch):
    ticks = iter([1_000_000, 1_512_500] * 10)
    monkeypatch.setattr(gate_module, "time", SimpleNamespace(perf_counter_ns=lambda: next(ticks)))
    decision = gate.decide(signal(), GOOD_MID)
    assert [v.latency_us for v in decision.verdicts] == [512.5] * 4


def test_verdicts_carry_a_measured_latency_in_microseconds(gate):
    decision = gate.decide(signal(), GOOD_MID)
    assert all(0.0 < v.latency_us < 1_000_000 for v in decision.verdicts)


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
