"""Build a real engine in-process (real core.db, paper broker, replay feed) with a pass-through gate."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import MappingProxyType

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.core_store import CoreStore
from tbot_core.gate import GateDecision
from tbot_core.home import BotHome
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.runtime.wiring import Fakes, build_parts
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.syslog import SystemLog
from tests.fakes.faults import ScriptedStrategy


class AllowAll:
    """Stands in for the filters: this file tests what comes after the gate."""

    def decide(self, signal, market):
        return GateDecision(True, "ok", ())

    def order_sent(self, signal) -> None:
        """No blocklist to mark: every signal passes."""

    def flush(self) -> None:
        """Nothing buffered."""

    def enhancement_status(self) -> tuple:
        return ()

    def tuning_view(self) -> Mapping:
        return MappingProxyType({})


SESSION_STRATEGIES_OFF = {"STRAT_OPEN_ENABLED": "false", "STRAT_MID_ENABLED": "false", "STRAT_CLOSE_ENABLED": "false"}


def build_engine(root: Path, every: int, **overrides: str):
    """The core's own wiring (``build_parts``) with a pass-through gate and only the scripted strategy.

    The session strategies are switched off through the config (a caller's
    override wins), so every order comes from ``ScriptedStrategy(every)``.
    """
    home = BotHome(str(root))
    settings = home.settings.with_values({**SESSION_STRATEGIES_OFF, **overrides})
    ident, paths = home.identity, home.paths
    syslog = SystemLog(paths.system_log(ident.BOT_IDENTITY), "JSON")
    ctx = CoreContext(paths, settings, ident, syslog, AuditLog(paths.audit_db), Matrix())
    store = CoreStore(paths.core_db)
    notifier = Notifier(lambda name: None, syslog, bot_identity=ident.BOT_IDENTITY)
    fakes = Fakes(gate=lambda _gate: AllowAll(), strategies=lambda _settings: [ScriptedStrategy(every)])
    parts = build_parts(home, ctx, store, notifier, fakes)
    kill = KillSwitch(store, ctx, notifier, cancel_orders=parts.broker.cancel_all)
    engine = Engine(
        ctx,
        store=store,
        broker=parts.broker,
        feed=parts.make_feed(store.cursor()[0]),
        strategies=parts.make_strategies(),
        gate=parts.gate,
        risk=parts.risk,
        kill_switch=kill,
        errors=ErrorHandler(ctx, broker_code=parts.broker.code),
        control=EngineControl(),
    )
    return engine, store, kill, ctx
