"""The gate, in-process and exact (mutmut sees these): which checks each strategy's signal meets and in which
order, the first block wins, exits skip entry filters, a failing module is audited, and the counters, the
strategy log and the tuning numbers agree with the decisions.

Real modules from the registry over a real home; fundamentals come from the real Finnhub source reading its
daily cache file, so no network is involved.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime
from decimal import Decimal
from types import SimpleNamespace

import pytest

from tbot_core import gate as gate_module
from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.gate import Gate, signal_problem
from tbot_core.signals import MarketContext
from tbot_core.state_schema import EnhancementStatus
from tests.tbot_core.enhancements.helpers import IDENTITY, signal, snap
from tests.tbot_core.gate_kit import ENTRY, GOOD_MID, audit, gate, modules

__all__ = ["audit", "gate"]  # fixtures


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
