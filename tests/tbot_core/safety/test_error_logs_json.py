"""LOG_FORMAT=JSON (the default): unresolved_orders.log is one sanitized JSON object per order error, no header.

In-process with a real home, real ``AuditLog`` and system log, so mutation testing sees ``ErrorHandler._append``.
"""

from __future__ import annotations

import json

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.errors import BrokerError, NetworkError
from tbot_core.safety.error_handler import FIELDS, ErrorHandler
from tbot_core.sanitize import register_secret
from tbot_core.syslog import SystemLog

SECRET = "sk-live-8hJ2Lm5Qp0"


def _handler(bot_home):
    settings = bot_home.settings.with_values({"LOG_FORMAT": "JSON"})
    paths, ident = bot_home.paths, bot_home.identity
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY, settings.log_format), settings.log_format)
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    return ErrorHandler(ctx, broker_code="PAPER"), paths.unresolved_orders_log(ident.BOT_IDENTITY)


def test_json_unresolved_orders_log_has_one_sorted_sanitized_object_per_order_error_and_no_header(bot_home):
    register_secret(SECRET)
    handler, orders_log = _handler(bot_home)
    first = handler.record(
        BrokerError(f"order rejected for key {SECRET}"),
        strategy="mid",
        order=True,
        context={"client_order_id": "mid-SPY-buy-1", "api_key": "visible-if-broken", "qty": 3},
    )
    handler.record(ValueError("engine bug"), context={"where": "engine"})  # not an order: system log only
    second = handler.record(
        NetworkError('timeout, reply was\nsplit, "quoted"'), strategy="open", order=True, context={"n": 1}
    )
    text = orders_log.read_text()
    assert text.endswith("}\n") and SECRET not in text and "visible-if-broken" not in text
    lines = text.splitlines()
    assert len(lines) == 2, "one line per order error, no header, nothing for the non-order error"
    rows = [json.loads(line) for line in lines]
    assert [list(row) for row in rows] == [sorted(FIELDS)] * 2, "every field, keys sorted"
    assert lines[0] == json.dumps(first, sort_keys=True, default=str)
    assert lines[1] == json.dumps(second, sort_keys=True, default=str)
    assert (rows[0]["strategy"], rows[0]["broker"], rows[0]["error_type"]) == ("mid", "PAPER", "BrokerError")
    assert (rows[1]["strategy"], rows[1]["error_type"]) == ("open", "NetworkError")
    assert rows[0]["timestamp_utc"].endswith("Z") and '"quoted"' in rows[1]["exception_repr"]
    assert isinstance(rows[0]["context"], dict), "the context is an object, not CSV's JSON-in-a-string"
    assert rows[0]["context"]["client_order_id"] == "mid-SPY-buy-1" and rows[0]["context"]["qty"] == 3
    assert rows[0]["context"]["api_key"] != "visible-if-broken"


def test_json_unresolved_orders_log_appends_to_an_existing_file(bot_home):
    handler, orders_log = _handler(bot_home)
    orders_log.parent.mkdir(parents=True, exist_ok=True)
    orders_log.write_text('{"earlier": true}\n')
    handler.record(BrokerError("rejected"), strategy="close", order=True)
    lines = orders_log.read_text().splitlines()
    assert lines[0] == '{"earlier": true}' and json.loads(lines[1])["error_type"] == "BrokerError"
