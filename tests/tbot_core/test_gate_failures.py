"""A failing module or data source: audited at most once per window, then blocked (``*_FATAL=true``) or skipped.

And ``Gate.decide`` never raises: an error anywhere inside it, including an I/O
error saving the ticker blocklist, is an audited block with a one-line reason.
Faults come in as objects passed to the constructors (tests/fakes/gate_faults.py,
a real Finnhub client pointed at a closed port), never as flags.
"""

from __future__ import annotations

from datetime import timedelta

import pytest

from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.data.finnhub import FinnhubFundamentals
from tbot_core.enhancements.ticker_blocklist import TickerBlocklist
from tbot_core.errors import ConfigError
from tbot_core.gate import Gate
from tbot_core.signals import MarketContext
from tests.fakes.gate_faults import RaisingTracker, UnreadableSwitch, UnsavableBlocklist
from tests.tbot_core.enhancements.helpers import IDENTITY, WINTER_TS, signal, snap
from tests.tbot_core.gate_kit import unsavable_gate

GOOD_MID = MarketContext({"AAPL": snap(close=97.0), "MSFT": snap(close=97.0)})


class Clock:
    def __init__(self) -> None:
        self.now = WINTER_TS

    def __call__(self):
        return self.now


@pytest.fixture
def audit(home_paths):
    with AuditLog(home_paths.audit_db) as log:
        yield log


def make_gate(home_paths, audit, clock=None, **values):
    settings = Settings().with_values(values) if values else Settings()
    return Gate(settings, IDENTITY, home_paths, audit=audit, broker_code="paper", clock=clock or Clock())


def module_errors(audit, event="module_error"):
    return [r.context_dict() for r in audit.tail(1000, category="enhancement") if r.event == event]


# -- a data source that fails ----------------------------------------------------------------------------------------
def test_vix_missing_blocks_a_close_entry_by_default_naming_the_module_and_its_setting(home_paths, audit):
    decision = make_gate(home_paths, audit).decide(signal("close"), MarketContext())
    assert not decision.allow
    assert decision.reason.startswith("vix_gatekeeper: vix_gatekeeper failed (VIX unknown")
    assert "VIX_GATEKEEPER_FATAL=true" in decision.reason and "\n" not in decision.reason
    [row] = module_errors(audit)
    assert (row["module"], row["kind"], row["fatal"], row["suppressed_before"]) == (
        "vix_gatekeeper",
        "vix_missing",
        True,
        0,
    )


def test_vix_missing_with_the_module_not_fatal_is_judged_on_core_logic_and_the_verdict_says_so(home_paths, audit):
    decision = make_gate(home_paths, audit, VIX_GATEKEEPER_FATAL="false").decide(signal("close"), MarketContext())
    assert decision.allow
    vix = next(v for v in decision.verdicts if v.module == "vix_gatekeeper")
    assert vix.allow and "skipped (VIX_GATEKEEPER_FATAL=false): proceeding on core logic without it" in vix.reason
    assert vix.context["failure"] == "vix_missing"
    assert module_errors(audit)[0]["fatal"] is False


def test_finnhub_down_blocks_entries_by_default_and_is_skipped_when_not_fatal(home_paths, audit):
    def gate(fatal: str) -> Gate:
        values = {
            "FUNDAMENTAL_GUARD_ENABLED": "true",
            "FUNDAMENTAL_GUARD_FATAL": fatal,
            "FINNHUB_API_URL": "http://127.0.0.1:9/api/v1",  # nothing listens on port 9: connection refused
        }
        settings = Settings().with_values(values)
        down = FinnhubFundamentals(settings, home_paths, clock=lambda: WINTER_TS, api_key=lambda _paths: "k-test")
        return Gate(settings, IDENTITY, home_paths, audit=audit, broker_code="paper", fundamentals=down)

    blocked = gate("true").decide(signal("open", symbol="AAPL"), MarketContext())
    assert not blocked.allow and blocked.reason.startswith("finnhub_fundamental_guard: ")
    assert "unreachable" in blocked.reason and "FUNDAMENTAL_GUARD_FATAL=true" in blocked.reason
    skipped = gate("false").decide(signal("open", symbol="MSFT"), MarketContext())
    assert skipped.allow
    guard = next(v for v in skipped.verdicts if v.module == "finnhub_fundamental_guard")
    assert "proceeding on core logic without it" in guard.reason
    assert [(r["kind"], r["fatal"]) for r in module_errors(audit)] == [
        ("finnhub_unavailable", True),
        ("finnhub_unavailable", False),
    ]


# -- rate limit ------------------------------------------------------------------------------------------------------
def test_a_failing_module_writes_one_audit_row_per_window_carrying_the_count_it_suppressed(home_paths, audit):
    clock = Clock()
    gate = make_gate(home_paths, audit, clock)
    for i in range(10):
        assert not gate.decide(signal("close", symbol=f"S{i}"), MarketContext()).allow
    assert len(module_errors(audit)) == 1
    clock.now += timedelta(minutes=4, seconds=59)
    gate.decide(signal("close", symbol="T1"), MarketContext())
    assert len(module_errors(audit)) == 1
    clock.now += timedelta(seconds=1)
    gate.decide(signal("close", symbol="T2"), MarketContext())
    rows = module_errors(audit)
    assert len(rows) == 2 and rows[1]["suppressed_before"] == 10 and rows[1]["window_minutes"] == 5.0


def test_each_failure_kind_of_a_module_has_its_own_window(home_paths, audit):
    gate = make_gate(home_paths, audit)
    gate.decide(signal("close", symbol="A"), MarketContext())  # VIX missing
    gate.decide(signal("close", symbol="B"), MarketContext(vix=-1.0))  # VIX garbled
    gate.decide(signal("close", symbol="C"), MarketContext(vix=-1.0))
    assert [r["kind"] for r in module_errors(audit)] == ["vix_missing", "vix_invalid"]


def test_suppressed_failures_are_reported_by_flush_once_their_window_passed_and_all_of_them_by_close(home_paths, audit):
    clock = Clock()
    gate = make_gate(home_paths, audit, clock)
    for i in range(4):
        gate.decide(signal("close", symbol=f"S{i}"), MarketContext())
    gate.flush()
    assert module_errors(audit, "module_error_suppressed") == []  # still inside the window
    clock.now += timedelta(minutes=5)
    gate.flush()
    [folded] = module_errors(audit, "module_error_suppressed")
    assert (folded["module"], folded["kind"], folded["suppressed"]) == ("vix_gatekeeper", "vix_missing", 3)
    gate.decide(signal("close", symbol="X"), MarketContext())
    gate.close()
    assert [r["suppressed"] for r in module_errors(audit, "module_error_suppressed")] == [3, 1]


# -- decide never raises ---------------------------------------------------------------------------------------------
def test_a_sent_order_whose_ticker_cannot_be_saved_is_audited_and_blocks_every_entry_until_a_save_succeeds(
    home_paths, audit, monkeypatch
):
    gate = unsavable_gate(home_paths, audit)
    assert gate.decide(signal(), GOOD_MID).allow, "decide only checks: nothing is saved there"
    gate.order_sent(signal())  # the order is out: this must not raise
    [row] = module_errors(audit)
    assert (row["module"], row["kind"], row["fatal"]) == ("ticker_blocklist", "save_failed", True)
    assert "cannot save run/session.json: OSError" in row["error"] and "\n" not in row["error"]
    # The order is out, so the ticker stays used; and a restart could not remember it: no entry at all.
    again = gate.decide(signal(symbol="MSFT"), GOOD_MID)
    assert not again.allow and again.verdicts[-1].module == "ticker_blocklist"
    assert "run/session.json not saved (OSError) after AAPL was used" in again.reason
    assert "TICKER_BLOCKLIST_FATAL=true" in again.reason
    status = {r.module: r for r in gate.enhancement_status()}
    assert status["ticker_blocklist"].status == "error"
    monkeypatch.setattr(UnsavableBlocklist, "_save", TickerBlocklist._save)  # the disk has room again
    assert gate.decide(signal(symbol="MSFT"), GOOD_MID).allow, "the retried save succeeded"
    blocked = gate.decide(signal(), GOOD_MID)
    assert not blocked.allow and "AAPL already used this session" in blocked.reason


def test_an_error_inside_the_gate_itself_is_an_audited_block_not_an_exception(home_paths, audit):
    gate = Gate(
        Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper", replace={"adx_filter": UnreadableSwitch}
    )
    decision = gate.decide(signal(), GOOD_MID)
    assert not decision.allow
    assert decision.reason == (
        "gate: gate error (RuntimeError: injected: settings object lost its ADX_FILTER_ENABLED): "
        "trade blocked (fail closed)"
    )
    [row] = module_errors(audit)
    assert (row["module"], row["kind"], row["fatal"], row["symbol"]) == ("gate", "RuntimeError", True, "AAPL")


def test_decide_on_garbage_blocks_even_when_the_audit_log_is_closed(home_paths):
    closed = AuditLog(home_paths.audit_db)
    closed.close()
    gate = Gate(
        Settings(), IDENTITY, home_paths, audit=closed, broker_code="paper", replace={"adx_filter": UnreadableSwitch}
    )
    assert not gate.decide(signal(), GOOD_MID).allow
    assert not gate.decide(object(), MarketContext()).allow  # type: ignore[arg-type]


def test_a_tracker_failure_is_audited_and_trading_goes_on_unless_tuning_tracker_fatal(home_paths, audit):
    replace = {"tuning_tracker": RaisingTracker}
    lenient = Gate(Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper", replace=replace)
    assert lenient.decide(signal(symbol="AAPL"), GOOD_MID).allow
    strict = Gate(
        Settings().with_values({"TUNING_TRACKER_FATAL": "true"}),
        IDENTITY,
        home_paths,
        audit=audit,
        broker_code="paper",
        replace=replace,
    )
    blocked = strict.decide(signal(symbol="MSFT"), GOOD_MID)
    assert not blocked.allow and blocked.reason.startswith("tuning_tracker: tuning_tracker failed (ZeroDivisionError")
    assert [(r["module"], r["fatal"]) for r in module_errors(audit)] == [
        ("tuning_tracker", False),
        ("tuning_tracker", True),
    ]


# -- the settings ----------------------------------------------------------------------------------------------------
@pytest.mark.parametrize("key", ["TICKER_BLOCKLIST_FATAL", "BUILD_CHECK_FATAL"])
def test_the_fatal_flags_the_seed_fixes_refuse_false_naming_the_key(key):
    with pytest.raises(ConfigError, match=f"{key}: .*expected true"):
        Settings().with_values({key: "false"})


def test_the_gate_reports_each_modules_fatal_flag_from_its_setting(home_paths):
    gate = make_gate(home_paths, None, ADX_FILTER_FATAL="true", VIX_GATEKEEPER_FATAL="false")
    fatal = {r.module: r.fatal for r in gate.enhancement_status()}
    assert fatal == {
        "adx_filter": True,
        "black_scholes_filter": True,
        "bollinger_confluence": False,
        "build_check": True,
        "finnhub_fundamental_guard": True,
        "imbalance_scanner_ibkr": True,
        "ticker_blocklist": True,
        "tuning_tracker": False,
        "vix_gatekeeper": False,
    }
