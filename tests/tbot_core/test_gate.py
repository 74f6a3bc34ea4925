"""The gate: blocklist first, then the strategy's enabled modules; never an exception out of decide()."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.enhancements.adx_filter import AdxFilter
from tbot_core.enhancements.build_check import BuildCheck
from tbot_core.gate import Gate
from tbot_core.signals import MarketContext
from tbot_core.state_schema import EnhancementRow, EnhancementStatus
from tests.tbot_core.enhancements.helpers import IDENTITY, signal, snap


@pytest.fixture
def gate(home_paths):
    audit = AuditLog(home_paths.audit_db)
    yield Gate(Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper")
    audit.close()


def _log(home_paths) -> list[dict]:
    return [json.loads(line) for line in home_paths.strategy_log("TBOT_PAPER_01").read_text().splitlines()]


def test_an_allowed_mid_signal_passes_blocklist_adx_and_bollinger_and_is_logged(gate, home_paths):
    decision = gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)}))
    assert decision.allow
    assert [v.module for v in decision.verdicts] == [
        "ticker_blocklist",
        "adx_filter",
        "bollinger_confluence",
        "black_scholes_filter",
    ]
    gate.flush()
    rows = _log(home_paths)
    assert {r["module"] for r in rows} == {
        "ticker_blocklist",
        "adx_filter",
        "bollinger_confluence",
        "black_scholes_filter",
    }
    assert set(rows[0]) == {
        "ts_utc",
        "strategy",
        "symbol",
        "side",
        "module",
        "allow",
        "reason",
        "context",
        "latency_us",
    }
    assert rows[0]["ts_utc"].endswith("Z")


def test_the_same_ticker_is_refused_a_second_time_in_the_session_once_an_order_was_sent(gate):
    market = MarketContext({"AAPL": snap(close=97.0)})
    assert gate.decide(signal(), market).allow
    gate.order_sent(signal())
    second = gate.decide(signal(), market)
    assert not second.allow and second.reason.startswith("ticker_blocklist: AAPL already used")


def test_decide_only_checks_an_allowed_entry_whose_order_is_never_sent_leaves_the_ticker_free(gate):
    market = MarketContext({"AAPL": snap(close=97.0)})
    assert gate.decide(signal("mid"), market).allow  # then risk (or a halt, a suspension) refuses the order
    assert gate.decide(signal("open"), market).allow, "another strategy may still use the ticker"
    gate.order_sent(signal("open"))
    again = gate.decide(signal("close"), MarketContext(vix=20.0))
    assert not again.allow and "already used this session (open buy at" in again.reason


def test_a_sent_exit_never_uses_up_its_ticker(gate):
    gate.order_sent(signal(side="sell"))
    assert gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)})).allow


def test_the_first_blocking_module_gives_the_reason(gate):
    decision = gate.decide(signal(), MarketContext({"AAPL": snap(adx=40.0, close=97.0)}))
    assert not decision.allow and decision.reason.startswith("adx_filter: ADX 40.0 > 25")
    assert gate.decide(signal("close", symbol="MSFT"), MarketContext(vix=12.0)).reason.startswith("vix_gatekeeper")


@pytest.mark.parametrize(
    "bad, why",
    [
        (signal(price="0"), "positive finite"),
        (signal(price="-3"), "positive finite"),
        (signal(price="NaN"), "positive finite"),
        (signal(side="hold"), "expected buy or sell"),
        (signal(strategy="nope"), "unknown strategy"),
    ],
)
def test_unusable_signals_are_blocked_with_a_reason(gate, bad, why):
    decision = gate.decide(bad, MarketContext())
    assert not decision.allow and why in decision.reason and decision.verdicts[0].module == "signal"


def test_missing_market_data_blocks_instead_of_raising(gate):
    decision = gate.decide(signal(), MarketContext())
    assert not decision.allow and "no indicator state" in decision.reason


def test_a_module_that_raises_is_audited_and_the_trade_proceeds_on_core_logic(gate, home_paths, monkeypatch):
    def boom(self, sig, market):
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(AdxFilter, "evaluate", boom)
    decision = gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)}))
    assert decision.allow and "proceeding on core logic" in decision.verdicts[1].reason
    with AuditLog(home_paths.audit_db, readonly=True) as audit:
        row = audit.tail(1, category="enhancement")[0]
    assert row.event == "module_error" and "disk on fire" in row.context
    status = {r.module: r for r in gate.enhancement_status()}
    assert status["adx_filter"].status == "error"


def test_a_module_marked_fatal_by_its_setting_blocks_when_it_raises(home_paths, monkeypatch):
    monkeypatch.setattr(AdxFilter, "evaluate", lambda self, s, m: 1 / 0)
    settings = Settings().with_values({"ADX_FILTER_FATAL": "true"})
    gate = Gate(settings, IDENTITY, home_paths, audit=None, broker_code="paper")
    decision = gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)}))
    assert not decision.allow and "fatal module (ADX_FILTER_FATAL=true)" in decision.reason


def test_enhancement_status_has_the_state_json_shape(gate):
    gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)}))
    rows = gate.enhancement_status()
    assert [r.module for r in rows][0] == "adx_filter" and len(rows) == 9
    assert all(isinstance(r, EnhancementRow) for r in rows) and isinstance(rows, tuple)
    by = {r.module: r for r in rows}
    assert by["finnhub_fundamental_guard"].status is EnhancementStatus.DISABLED and by["adx_filter"].allowed == 1
    assert by[BuildCheck.name].fatal is True


def test_tuning_view_is_the_state_json_tuning_section(gate):
    assert gate.tuning_view() == {}  # nothing seen yet: the writer leaves the section out
    gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)}))
    gate.record_trade("mid", Decimal("12.5"), 300.0)
    gate.record_trade("mid", Decimal("-2.5"), 100.0)
    stats = gate.tuning_view()["mid"]
    assert (stats.trades, stats.win_rate, stats.realized_pnl, stats.max_drawdown) == (
        2,
        Decimal("0.5000"),
        Decimal("10.0"),
        Decimal("2.5"),
    )
    assert stats.avg_duration_s == 200.0 and dict(stats.blocks) == {}


def test_csv_log_format_writes_a_csv_strategy_log(home_paths):
    settings = Settings().with_values({"LOG_FORMAT": "CSV"})
    gate = Gate(settings, IDENTITY, home_paths, audit=None, broker_code="paper")
    gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)}))
    gate.record_trade("mid", Decimal("12.5"), 60.0)
    gate.flush()
    lines = home_paths.strategy_log("TBOT_PAPER_01", "CSV").read_text().splitlines()
    assert lines[0].startswith("ts_utc,strategy,symbol,side,module,allow") and len(lines) == 5
    summary = json.loads(home_paths.tuning_summary("TBOT_PAPER_01").read_text())
    assert summary["strategies"]["mid"]["pnl"] == "12.5"


def test_an_exit_is_never_blocked_by_entry_filters_or_the_blocklist(gate):
    """Long only: a sell closes a position, so neither the blocklist nor a filter may trap it."""
    assert gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)})).allow
    gate.order_sent(signal())
    exit_ = gate.decide(signal(side="sell"), MarketContext())  # no indicator state: an entry would block
    assert exit_.allow and exit_.verdicts[0].reason.startswith("exit")
    gate.order_sent(signal(side="sell"))
    assert not gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0)})).allow, (
        "the exit must not free the ticker"
    )
