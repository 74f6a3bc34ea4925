"""The kill switch's real parts for its in-process tests: core.db, the hash-chained audit log, the paper broker's
resting orders, the system log, and a real notifier posting to a webhook receiver on 127.0.0.1."""

from __future__ import annotations

import json
import time
from datetime import UTC, datetime
from decimal import Decimal

import pytest

from tbot_core.audit import AuditLog
from tbot_core.bars import Bar
from tbot_core.brokers.base import OrderRequest
from tbot_core.brokers.paper import PaperBroker
from tbot_core.context import CoreContext, Matrix
from tbot_core.core_store import CoreStore
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.syslog import SystemLog
from tests.tbot_core.safety.alert_servers import start_webhook

BAR_UTC = "2026-01-05T14:31:00.000000Z"


class Parts:
    def __init__(self, bot_home, limit: str = "500", cancel: str = "broker") -> None:
        self.server, self.hooks = start_webhook()
        url = f"http://127.0.0.1:{self.server.server_port}/hook"
        self.settings = bot_home.settings.with_values({"DAILY_LOSS_LIMIT": limit})
        self.paths, ident = bot_home.paths, bot_home.identity
        self.syslog = SystemLog(self.paths.system_log(ident.BOT_IDENTITY), "JSON")
        self.audit = AuditLog(self.paths.audit_db)
        self.ctx = CoreContext(self.paths, self.settings, ident, self.syslog, self.audit, Matrix())
        self.store = CoreStore(self.paths.core_db)
        self.broker = PaperBroker(self.store, self.settings)
        self.notifier = Notifier(
            lambda name: {"url": url} if name == "notifier_webhook" else None,
            self.syslog,
            bot_identity=ident.BOT_IDENTITY,
        )
        cancel_orders = {"broker": self.broker.cancel_all, "none": None, "broken": self._broken_cancel}[cancel]
        self.kill = KillSwitch(self.store, self.ctx, self.notifier, cancel_orders=cancel_orders)

    @staticmethod
    def _broken_cancel() -> int:
        raise ConnectionError("broker hung up")

    def fresh_kill(self) -> KillSwitch:
        """The kill switch a restarted core builds on the same files."""
        return KillSwitch(CoreStore(self.paths.core_db), self.ctx, self.notifier)

    def rest_limit_orders(self, n: int) -> None:
        """``n`` resting limit buys far below the market: open orders a halt must cancel."""
        bar = Bar(datetime(2026, 1, 5, 14, 30, tzinfo=UTC), "SPY", 100.0, 100.05, 99.95, 100.0, 1000)
        self.broker.on_bar(bar, 10000, BAR_UTC)
        for i in range(n):
            self.broker.submit_order(OrderRequest(f"mid-SPY-buy-{i}", "SPY", "buy", Decimal(1), "mid", Decimal("50")))
        assert len(self.broker.open_orders()) == n

    def events(self, event: str) -> list[tuple[str, str, dict]]:
        """The kill switch's audit rows of one event (any other category's row with that name fails the test)."""
        rows = [r for r in self.audit.iter_rows() if r.event == event]
        assert all(r.category == "kill_switch" for r in rows), [r.category for r in rows]
        return [(r.severity, r.actor, r.context_dict()) for r in rows]

    def log_lines(self) -> list[dict]:
        if not self.syslog.path.exists():
            return []
        return [json.loads(line) for line in self.syslog.path.read_text().splitlines()]

    def alerts(self, n: int) -> list[dict]:
        deadline = time.monotonic() + 10
        while len(self.hooks) < n and time.monotonic() < deadline:
            time.sleep(0.02)
        self.notifier.close()
        return [h["body"] for h in self.hooks]

    def close(self) -> None:
        self.notifier.close()
        self.server.shutdown()


@pytest.fixture
def parts(bot_home):
    """The parts for one test; the notifier and the webhook receiver are stopped after it."""
    p = Parts(bot_home)
    yield p
    p.close()
