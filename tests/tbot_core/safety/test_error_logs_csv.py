"""LOG_FORMAT=CSV: unresolved_orders.log and the system log get a header and one sanitized row per error."""

from __future__ import annotations

import csv
import json

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.errors import BrokerError, NetworkError
from tbot_core.safety.error_handler import FIELDS, ErrorHandler
from tbot_core.sanitize import register_secret
from tbot_core.syslog import CSV_FIELDS, SystemLog

SECRET = "sk-live-4f9Qz7TT81"


def _handler(bot_home):
    settings = bot_home.settings.with_values({"LOG_FORMAT": "CSV"})
    paths, ident = bot_home.paths, bot_home.identity
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY, settings.log_format), settings.log_format)
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    return ErrorHandler(ctx, broker_code="PAPER"), paths.unresolved_orders_log(ident.BOT_IDENTITY), syslog.path


def test_csv_unresolved_orders_log_has_a_header_and_one_sanitized_row_per_order_error(bot_home):
    register_secret(SECRET)
    handler, orders_log, _ = _handler(bot_home)
    handler.record(
        BrokerError(f"order rejected for key {SECRET}"),
        strategy="mid",
        order=True,
        context={"client_order_id": "mid-SPY-buy-1", "api_key": "visible-if-broken", "qty": 3},
    )
    handler.record(
        NetworkError('timeout, reply was\nsplit, "quoted"'),
        strategy="open",
        order=True,
        context={"client_order_id": "open-AAPL-sell-2"},
    )
    text = orders_log.read_text()
    with open(orders_log, newline="") as handle:
        rows = list(csv.reader(handle))
    assert (
        rows[0]
        == list(FIELDS)
        == ["timestamp_utc", "strategy", "broker", "error_type", "error_code", "exception_repr", "context"]
    )
    assert len(rows) == 3 and all(len(row) == len(FIELDS) for row in rows)
    first, second = (dict(zip(FIELDS, row)) for row in rows[1:])
    assert first["timestamp_utc"].endswith("Z") and first["strategy"] == "mid" and first["broker"] == "PAPER"
    assert (first["error_type"], second["error_type"]) == ("BrokerError", "NetworkError")
    assert first["error_code"] and second["error_code"]
    assert "order rejected" in first["exception_repr"] and '"quoted"' in second["exception_repr"]
    context = json.loads(first["context"])
    assert context["client_order_id"] == "mid-SPY-buy-1" and context["qty"] == 3
    assert context["api_key"] != "visible-if-broken"
    assert SECRET not in text and "visible-if-broken" not in text


def test_csv_system_log_gets_the_same_structured_entry_for_every_error(bot_home):
    register_secret(SECRET)
    handler, orders_log, system_log = _handler(bot_home)
    handler.record(BrokerError(f"bad token {SECRET}"), strategy="close", order=True, context={"symbol": "SPY"})
    handler.record(ValueError("engine bug"), context={"where": "engine"})  # not an order: system log only
    with open(system_log, newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert system_log.read_text().splitlines()[0] == ",".join(CSV_FIELDS)
    errors = [row for row in rows if row["module"] == "error_handler"]
    assert len(errors) == 2 and all(row["level"] == "error" and row["timestamp_utc"].endswith("Z") for row in errors)
    entries = [json.loads(row["context"]) for row in errors]
    assert all(set(entry) == set(FIELDS[1:]) for entry in entries)
    assert (entries[0]["strategy"], entries[0]["broker"], entries[0]["error_type"]) == ("close", "PAPER", "BrokerError")
    assert entries[0]["context"] == {"symbol": "SPY"} and entries[1]["error_type"] == "LogicError"
    assert SECRET not in system_log.read_text()
    assert len(list(csv.reader(orders_log.open(newline="")))) == 2  # header + the one order error
