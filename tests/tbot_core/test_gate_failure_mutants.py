"""The gate's failure paths, in-process and exact (mutmut sees these): an error in the gate itself, a data source
whose failure text is long, a ticker that cannot be saved, a tracker that raises, and the rows the failure
throttle folds away, each checked by the decision returned, the verdicts, the module status and the audit rows
written, field by field.

Real modules from the registry over a real home and its hash-chained audit log; faults come in through the
gate's constructor (``replace=`` with the fakes in tests/fakes/gate_faults.py, ``throttle=``) or as the input
itself, never as flags.
"""

from __future__ import annotations

import json
from datetime import timedelta
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.config import Settings
from tbot_core.enhancements.base import Verdict
from tbot_core.enhancements.failure_log import FailureThrottle
from tbot_core.gate import Gate, GateDecision
from tbot_core.signals import MarketContext
from tbot_core.state_schema import EnhancementStatus
from tests.fakes.gate_faults import RaisingTracker, UnreadableSwitch
from tests.tbot_core.enhancements.helpers import IDENTITY, WINTER_TS, signal, snap
from tests.tbot_core.gate_kit import ENTRY, GOOD_MID, audit, gate, modules, strategy_log, unsavable_gate

__all__ = ["audit", "gate"]  # fixtures

TRACKER_ERROR = "ZeroDivisionError: injected: win rate of no trades"


class Clock:
    def __init__(self) -> None:
        self.now = WINTER_TS

    def __call__(self):
        return self.now


class Unclassable:
    """Input so broken that even asking for its class raises: the gate's own first check fails inside decide."""

    @property  # type: ignore[misc]
    def __class__(self):
        raise RuntimeError("garbled\n   input " + "z" * 400)


def rows(audit: AuditLog, event: str) -> list[tuple[str, dict[str, Any]]]:
    """(severity, context) of the gate's audit rows of one event, oldest first."""
    return [(r.severity, r.context_dict()) for r in audit.tail(1000, category="enhancement") if r.event == event]


def status(gate: Gate) -> dict[str, EnhancementStatus]:
    return {row.module: row.status for row in gate.enhancement_status()}


def failure_row(module: str, kind: str, fatal: bool, error: str, *, who=("mid", "AAPL", "buy"), before=0) -> dict:
    strategy, symbol, side = who
    return {
        "module": module,
        "kind": kind,
        "fatal": fatal,
        "error": error,
        "strategy": strategy,
        "symbol": symbol,
        "side": side,
        "suppressed_before": before,
        "window_minutes": 5.0,
    }


# -- an error in the gate itself ------------------------------------------------------------------------------------
def test_an_error_in_the_gate_itself_blocks_with_one_verdict_and_an_audited_row_naming_the_signal(home_paths, audit):
    gate = Gate(
        Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper", replace={"adx_filter": UnreadableSwitch}
    )
    decision = gate.decide(signal(symbol="MSFT"), GOOD_MID)
    what = "RuntimeError: injected: settings object lost its ADX_FILTER_ENABLED"
    reason = f"gate error ({what}): trade blocked (fail closed)"
    assert decision == GateDecision(False, f"gate: {reason}", (Verdict("gate", False, reason, {"error": what}, 0.0),))
    assert decision.allow is False and decision.verdicts[0].allow is False
    assert rows(audit, "module_error") == [
        ("error", failure_row("gate", "RuntimeError", True, what, who=("mid", "MSFT", "buy")))
    ]


def test_input_that_breaks_the_gates_own_check_is_blocked_with_its_error_cut_to_one_line_of_300(gate, audit):
    decision = gate.decide(Unclassable(), GOOD_MID)  # type: ignore[arg-type]
    what = ("RuntimeError: garbled input " + "z" * 400)[:300]
    reason = f"gate error ({what}): trade blocked (fail closed)"
    assert decision == GateDecision(False, f"gate: {reason}", (Verdict("gate", False, reason, {"error": what}, 0.0),))
    # Not a Signal: the row says so by leaving its strategy, symbol and side empty.
    assert rows(audit, "module_error") == [("error", failure_row("gate", "RuntimeError", True, what, who=("", "", "")))]


def test_a_non_signal_is_blocked_by_the_signal_check_not_by_a_gate_error_and_audits_nothing(gate, audit, home_paths):
    decision = gate.decide(object(), MarketContext())  # type: ignore[arg-type]
    problem = "not a Signal (object)"
    assert decision == GateDecision(False, f"signal: {problem}", (Verdict("signal", False, problem, {}, 0.0),))
    assert rows(audit, "module_error") == [] and gate.tuning() == {}
    gate.flush()
    assert strategy_log(home_paths) == "", "a row needs a Signal with a UTC time"


# -- exits are recorded like entries --------------------------------------------------------------------------------
def test_an_exit_reaches_the_strategy_log_and_the_tuning_counts(gate, home_paths):
    assert gate.decide(signal(side="sell"), MarketContext()).allow
    gate.flush()
    [row] = [json.loads(line) for line in strategy_log(home_paths).splitlines()]
    assert (row["module"], row["side"], row["allow"]) == ("signal", "sell", True)
    tuning = gate.tuning()["mid"]
    assert (tuning["signals"], tuning["allowed"]) == (1, 1)


# -- order_sent ------------------------------------------------------------------------------------------------------
def test_a_sent_exit_or_a_non_signal_uses_no_ticker_and_saves_nothing(gate, home_paths, audit):
    gate.order_sent(signal(side="sell"))
    gate.order_sent(object())  # type: ignore[arg-type]
    assert not home_paths.session_file.exists()
    assert gate.decide(signal(), GOOD_MID).allow, "the sent exit left AAPL free for an entry"
    assert rows(audit, "module_error") == []


def test_a_ticker_that_cannot_be_saved_marks_the_blocklist_errored_at_once_and_audits_the_sent_signal(
    home_paths, audit
):
    gate = unsavable_gate(home_paths, audit)
    assert status(gate)["ticker_blocklist"] is EnhancementStatus.OK
    gate.order_sent(signal(symbol="MSFT"))
    assert status(gate)["ticker_blocklist"] is EnhancementStatus.ERROR, "before any later decision"
    error = f"cannot save run/session.json: OSError: [Errno 28] No space left on device: '{home_paths.session_file}'"
    assert rows(audit, "module_error") == [
        ("error", failure_row("ticker_blocklist", "save_failed", True, error, who=("mid", "MSFT", "buy")))
    ]


# -- a data source whose failure text is long -------------------------------------------------------------------------
def test_a_data_sources_failure_text_is_one_line_of_at_most_300_in_the_verdict_and_the_audit_row(gate, audit):
    failed = "feed\n   down " + "y" * 400
    decision = gate.decide(signal("close"), MarketContext(vix=20.0, failed={"vix": failed}))
    what = ("feed down " + "y" * 400)[:300]
    vix = decision.verdicts[-1]
    assert not decision.allow and vix.module == "vix_gatekeeper"
    assert vix.reason == f"vix_gatekeeper failed ({what}); fatal module (VIX_GATEKEEPER_FATAL=true): trade blocked"
    assert vix.context == {"threshold": 15.0, "error": what, "failure": "vix_source_failed"}
    [(severity, row)] = rows(audit, "module_error")
    assert row == failure_row("vix_gatekeeper", "vix_source_failed", True, what, who=("close", "AAPL", "buy"))


# -- the tuning tracker fails -----------------------------------------------------------------------------------------
def _tracker_gate(home_paths, audit, fatal: str) -> Gate:
    settings = Settings().with_values({"TUNING_TRACKER_FATAL": fatal})
    return Gate(
        settings, IDENTITY, home_paths, audit=audit, broker_code="paper", replace={"tuning_tracker": RaisingTracker}
    )


def test_a_tracker_failure_not_fatal_adds_no_verdict_marks_it_errored_and_audits_the_signal(home_paths, audit):
    gate = _tracker_gate(home_paths, audit, "false")
    assert status(gate)["tuning_tracker"] is EnhancementStatus.OK
    decision = gate.decide(signal(symbol="MSFT"), GOOD_MID)
    assert decision.allow and decision.reason == ENTRY.format(4) and modules(decision)[-1] == "black_scholes_filter"
    assert status(gate)["tuning_tracker"] is EnhancementStatus.ERROR
    assert rows(audit, "module_error") == [
        ("error", failure_row("tuning_tracker", "ZeroDivisionError", False, TRACKER_ERROR, who=("mid", "MSFT", "buy")))
    ]


def test_a_fatal_tracker_failure_blocks_an_allowed_signal_with_its_own_exact_verdict(home_paths, audit):
    gate = _tracker_gate(home_paths, audit, "true")
    decision = gate.decide(signal(), GOOD_MID)
    reason = f"tuning_tracker failed ({TRACKER_ERROR}); fatal module (TUNING_TRACKER_FATAL=true): trade blocked"
    context = {"error": TRACKER_ERROR, "failure": "ZeroDivisionError"}
    assert decision.allow is False and decision.reason == f"tuning_tracker: {reason}"
    assert modules(decision) == [
        "ticker_blocklist",
        "adx_filter",
        "bollinger_confluence",
        "black_scholes_filter",
        "tuning_tracker",
    ]
    assert decision.verdicts[-1] == Verdict("tuning_tracker", False, reason, context, 0.0)
    assert decision.verdicts[-1].allow is False
    [(_, row)] = rows(audit, "module_error")
    assert (row["kind"], row["fatal"], row["error"]) == ("ZeroDivisionError", True, TRACKER_ERROR)


def test_a_fatal_tracker_failure_leaves_a_filters_block_as_the_reason(home_paths, audit):
    gate = _tracker_gate(home_paths, audit, "true")
    decision = gate.decide(signal(), MarketContext({"AAPL": snap(close=97.0, adx=40.0)}))
    assert not decision.allow and modules(decision) == ["ticker_blocklist", "adx_filter"]
    assert decision.reason.startswith("adx_filter: ")


# -- the throttle's folded rows -----------------------------------------------------------------------------------------
def test_close_reports_the_folded_failures_as_a_warning_with_the_throttles_own_window(home_paths, audit):
    clock = Clock()
    throttle = FailureThrottle(window=timedelta(minutes=2), clock=clock)
    gate = Gate(Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper", clock=clock, throttle=throttle)
    for symbol in ("A", "B", "C"):
        assert not gate.decide(signal("close", symbol=symbol), MarketContext()).allow  # VIX missing
    [(_, first)] = rows(audit, "module_error")
    assert (first["symbol"], first["window_minutes"]) == ("A", 2.0)
    gate.flush()
    assert rows(audit, "module_error_suppressed") == [], "still inside the window"
    gate.close()
    folded = {"module": "vix_gatekeeper", "kind": "vix_missing", "suppressed": 2, "window_minutes": 2.0}
    assert rows(audit, "module_error_suppressed") == [("warning", folded)]
    gate.close()
    assert len(rows(audit, "module_error_suppressed")) == 1, "each folded failure is reported once"


def test_flush_reports_folded_failures_once_the_throttles_window_passed(home_paths, audit):
    clock = Clock()
    throttle = FailureThrottle(window=timedelta(minutes=2), clock=clock)
    gate = Gate(Settings(), IDENTITY, home_paths, audit=audit, broker_code="paper", clock=clock, throttle=throttle)
    gate.decide(signal("close", symbol="A"), MarketContext())
    gate.decide(signal("close", symbol="B"), MarketContext())
    clock.now += timedelta(minutes=2)
    gate.flush()
    folded = {"module": "vix_gatekeeper", "kind": "vix_missing", "suppressed": 1, "window_minutes": 2.0}
    assert rows(audit, "module_error_suppressed") == [("warning", folded)]
