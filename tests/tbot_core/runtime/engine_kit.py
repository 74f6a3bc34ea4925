"""Build a real engine in-process (real core.db, paper broker, replay feed) with a pass-through gate."""

from __future__ import annotations

from pathlib import Path

from tbot_core.audit import AuditLog
from tbot_core.brokers.paper import PaperBroker
from tbot_core.context import CoreContext, Matrix
from tbot_core.core_store import CoreStore
from tbot_core.data.replay import ReplayFeed
from tbot_core.gate import GateDecision
from tbot_core.home import BotHome
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.syslog import SystemLog
from tests.fakes.faults import ScriptedStrategy


class AllowAll:
    """Stands in for the filters: this file tests what comes after the gate."""

    def decide(self, signal, market):
        return GateDecision(True, "ok", ())

    def flush(self) -> None:
        """Nothing buffered."""

    def enhancement_status(self) -> list:
        return []


def build_engine(root: Path, every: int, **overrides: str):
    home = BotHome(str(root))
    settings = home.settings.with_values(overrides) if overrides else home.settings
    ident = home.identity
    paths = home.paths
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY), "JSON")
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    store = CoreStore(paths.core_db)
    broker = PaperBroker(store, settings)
    notifier = Notifier(lambda name: None, syslog, bot_identity=ident.BOT_IDENTITY)
    kill = KillSwitch(store, ctx, notifier, cancel_orders=broker.cancel_all)
    feed = ReplayFeed(paths.sample_ohlcv, paths.sample_vix, settings, start_after=store.cursor()[0])
    engine = Engine(
        ctx,
        store=store,
        broker=broker,
        feed=feed,
        strategies=[ScriptedStrategy(every)],
        gate=AllowAll(),
        risk=RiskBot(settings),
        kill_switch=kill,
        errors=ErrorHandler(ctx, broker_code="PAPER"),
        control=EngineControl(),
    )
    return engine, store, kill, ctx
