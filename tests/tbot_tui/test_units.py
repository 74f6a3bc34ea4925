"""Small pure pieces of the console: loss fraction, backtest parsing, reset rule, ack matching, filters."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from tbot_core.audit import AuditRow
from tbot_core.control import ControlFlag, Operator
from tbot_core.paths import HomePaths
from tbot_core.state_schema import BrokerMismatch, MismatchRow, Pnl
from tbot_tui.acks import AckTracker
from tbot_tui.backtest_data import drawdowns, load_backtest
from tbot_tui.screens.reset_confirm import reset_problem
from tbot_tui.view import held_for, money, used_fraction
from tbot_tui.widgets.audit_tail import row_matches
from tbot_tui.widgets.column_plot import resample
from tbot_tui.widgets.risk import mismatch_line
from tbot_tui.widgets.verdicts import column_widths, verdict_matches

from .console_states import verdicts


def _row(seq: int, category: str, event: str, context: dict, severity: str = "info") -> AuditRow:
    return AuditRow(
        seq, "2026-03-02T15:00:00.000000Z", category, event, severity, "system", json.dumps(context), "0" * 64, "1" * 64
    )


def test_used_fraction_prefers_published_value_and_derives_from_loss_otherwise() -> None:
    assert used_fraction(Pnl(used_fraction=Decimal("0.25"))) == Decimal("0.25")
    assert used_fraction(Pnl(daily=Decimal("-500.00"), limit=Decimal("2000.00"))) == Decimal("0.25")
    gain = Pnl(daily=Decimal("300.00"), limit=Decimal("2000.00"))
    assert used_fraction(gain) == Decimal(0), "a gain uses none of the loss limit"
    assert used_fraction(Pnl(daily=Decimal("-1"))) is None, "no limit: unknown, not zero"
    assert used_fraction(None) is None, "no pnl section: unknown"


def test_money_keeps_decimal_precision_and_dashes_garbage() -> None:
    assert money("1234567.891") == "1,234,567.89"
    assert money("not money") == "—" and money(None) == "—" and money(True) == "—"


def test_backtest_missing_file_says_no_backtest_yet(tmp_path) -> None:
    paths = HomePaths(tmp_path)
    assert load_backtest(paths, "TBOT_X1").problem.startswith("no backtest yet")


def test_backtest_bad_day_is_one_line_naming_day_and_field(tmp_path) -> None:
    paths = HomePaths(tmp_path)
    target = paths.backtest_daily_summary("TBOT_X1")
    target.parent.mkdir(parents=True)
    target.write_text(
        json.dumps({"days": [{"date": "2026-01-01", "equity": "100"}, {"date": "2026-01-02", "equity": "x"}]})
    )
    assert (
        load_backtest(paths, "TBOT_X1").problem
        == "daily_summary_backtest.json: day 2: equity: expected a decimal amount"
    )


def test_drawdown_is_fraction_below_running_peak() -> None:
    assert drawdowns([Decimal(100), Decimal(120), Decimal(90), Decimal(130)]) == [0, 0, Decimal("0.25"), 0]


def test_reset_requires_exact_word_and_a_reason() -> None:
    assert reset_problem("reset", "why") != ""
    assert reset_problem("RESET", "  ") == "a reason is required"
    assert reset_problem(" RESET ", "checked") == ""


def test_ack_tracker_marks_only_its_own_nonces_once() -> None:
    tracker = AckTracker()
    mine = ControlFlag("stop", "2026-03-02T15:00:00Z", Operator("op"), "", "a" * 32, "ui")
    tracker.expect(mine)
    rows = [
        _row(1, "control", "flag_stop_acknowledged", {"nonce": "a" * 32, "outcome": "stopping"}),
        _row(2, "control", "flag_start_acknowledged", {"nonce": "b" * 32, "outcome": "resumed"}),
        _row(3, "supervisor", "flag_stop_acknowledged", {"nonce": "a" * 32}),
    ]
    acks = tracker.scan(rows)
    assert [(a.flag, a.outcome, a.mine) for a in acks] == [("stop", "stopping", True), ("start", "resumed", False)]
    assert tracker.waiting_for() == []


def test_audit_row_filter_combines_category_severity_and_case_insensitive_search() -> None:
    row = _row(5, "watchdog", "broker_suspended", {"age": 42}, "error")
    assert row_matches(row, "watchdog", "error", "SUSPEND")
    assert not row_matches(row, "control", None, "")
    assert not row_matches(row, None, "warning", "")
    assert not row_matches(row, None, None, "kill")


def test_verdict_filter_by_module_and_outcome() -> None:
    [v] = [row for row in verdicts() if row.module == "adx_filter"][:1]
    assert not v.allow
    assert verdict_matches(v, "adx_filter", "block") and not verdict_matches(v, None, "allow")


def test_resample_keeps_the_last_value_of_each_bucket() -> None:
    assert resample([1, 2, 3, 4, 5, 6], 3) == [2, 4, 6]
    assert resample([1, 2], 10) == [1, 2]


def test_ack_tracker_history_reports_only_nonces_this_console_wrote() -> None:
    tracker = AckTracker()
    tracker.expect(ControlFlag("stop", "2026-03-02T15:00:00Z", Operator("op"), "", "a" * 32, "ui"))
    rows = [
        _row(1, "control", "flag_defense_on_acknowledged", {"nonce": "b" * 32}),
        _row(2, "control", "flag_stop_acknowledged", {"nonce": "a" * 32, "outcome": "stopping"}),
    ]
    assert [(a.flag, a.mine) for a in tracker.scan(rows, history=True)] == [("stop", True)]


def test_verdict_columns_keep_time_verdict_symbol_module_and_fill_the_rest_with_reason() -> None:
    narrow = dict(column_widths(79, longest_module=25, longest_reason=32))
    assert list(narrow) == ["time", "verdict", "symbol", "module", "reason"]
    assert narrow["time"] == 8 and narrow["verdict"] >= len("verdict")
    assert sum(w + 2 for w in narrow.values()) == 79, "no cell wasted, no horizontal scroll"
    wide = dict(column_widths(140, longest_module=25, longest_reason=32))
    assert wide["module"] == 25 and wide["reason"] >= 32 and "strategy" in wide


@pytest.mark.parametrize(
    ("seconds", "shown"),
    [(None, "—"), (-1, "—"), (59.9, "0m"), (2700.5, "45m"), (3600, "1h00m"), (7500, "2h05m"), (266400, "3d02h")],
)
def test_an_average_holding_time_reads_in_minutes_hours_or_days(seconds, shown):
    assert held_for(seconds) == shown


def test_the_books_line_says_blocking_with_the_first_difference_and_how_many_more_then_who_accepted() -> None:
    position = MismatchRow(
        kind="position", symbol="SPY", broker_qty=Decimal(10), book_qty=Decimal(5), detail="broker 10, books 5"
    )
    order = MismatchRow(kind="open_order", symbol="AAPL", broker_qty=Decimal(3), book_qty=None, detail="not ours")

    def mismatch(rows: tuple[MismatchRow, ...], by: str | None = None) -> BrokerMismatch:
        return BrokerMismatch(
            blocking=by is None,
            found_utc="2026-03-02T14:31:05.000000Z",
            cause="engine start",
            rows=rows,
            acknowledged_by=by,
            acknowledged_utc="2026-03-02T14:40:00.000000Z" if by else None,
        )

    assert mismatch_line(None) == "books     match the broker"
    assert mismatch_line(mismatch((position, order))) == (
        "books     MISMATCH 14:31:05Z (engine start): SPY broker 10 books 5 +1 more — entries blocked, A accepts"
    )
    assert "(engine start): AAPL order 3 not ours — entries blocked" in mismatch_line(mismatch((order,)))
    assert mismatch_line(mismatch((position,), by="ops")) == "books     mismatch accepted by ops 14:40:00Z"
