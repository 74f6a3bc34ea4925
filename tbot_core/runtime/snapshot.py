"""Builds ``state.json`` (a ``CoreState``, docs/state.md) from the views the core's parts published.

Nothing here reads a part's internals: the engine, kill switch, watchdog and
matrix each hand over a frozen value, and the supervisor gathers them in one
``CoreViews`` (the mode first, then the matrix: see ``Matrix``).  So the
picture cannot mix two moments of one part, and building it never races the
engine thread.  Amounts are summed in integer cents and leave as decimals.
"""

from __future__ import annotations

import os
import types
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal

from tbot_core import __version__
from tbot_core.config import Settings
from tbot_core.identity import Identity
from tbot_core.money import Money, from_cents
from tbot_core.runtime.engine_view import EngineView, PositionView
from tbot_core.safety.risk_bot import RiskLimits
from tbot_core.selfcheck import CheckResult
from tbot_core.state_schema import (
    Account,
    Allocation,
    BrokerMismatch,
    CheckRow,
    CoreInfo,
    CoreMode,
    CoreState,
    DefenseMode,
    Exposure,
    IdentityInfo,
    KillSwitchView,
    MatrixRowView,
    Pnl,
    Position,
    RestartWindow,
    WatchdogView,
    WorkersInfo,
)
from tbot_core.timeutil import UtcTime, iso_z

FRACTION = Decimal("0.0001")


@dataclass(frozen=True, slots=True, kw_only=True)
class CoreViews:
    """Everything ``state.json`` is made of, each part as its owner published it."""

    mode: CoreMode
    started_utc: UtcTime
    blocked_reason: str = ""
    checks: tuple[CheckResult, ...] = ()
    worker_restarts: Mapping[str, int] = field(default_factory=lambda: types.MappingProxyType({}))
    restart_window: RestartWindow
    matrix: tuple[MatrixRowView, ...]
    defense: bool = False
    limits: RiskLimits | None = None  # the risk bot's limits for ``defense`` (None before the parts exist)
    kill: KillSwitchView | None = None
    watchdog: WatchdogView | None = None
    engine: EngineView | None = None
    mismatch: BrokerMismatch | None = None  # the reconciliation's verdict (runtime/reconcile.py), read directly


def core_info(started_utc: UtcTime) -> CoreInfo:
    return CoreInfo(pid=os.getpid(), started_utc=started_utc, heartbeat_utc=iso_z(), version=__version__)


def build_state(views: CoreViews, settings: Settings, ident: Identity) -> CoreState:
    state = CoreState(
        mode=views.mode,
        core=core_info(views.started_utc),
        blocked_reason=views.blocked_reason or None,
        identity=IdentityInfo(
            bot_identity=ident.BOT_IDENTITY,
            jurisdiction=ident.JURISDICTION_CODE,
            broker=settings.broker,
            paper=settings.broker == "paper",
            environment=settings.environment,
        ),
        self_check=tuple(
            CheckRow(module=r.module, ok=r.ok, detail=r.detail, hint=r.hint, checked_utc=r.checked_utc)
            for r in views.checks
        ),
        workers=WorkersInfo(restarts=views.worker_restarts, restart_window=views.restart_window),
        emergency_matrix=views.matrix,
        defense_mode=DefenseMode(active=views.defense, factor=Decimal(str(settings.defense_mode_factor))),
        config=types.MappingProxyType(settings.redacted()),
        kill_switch=views.kill,
        watchdog=views.watchdog,
        broker_mismatch=views.mismatch,
    )
    engine = views.engine
    if engine is None or not engine.account_read:  # before the broker answered once there is no account
        return state
    return _with_engine(state, engine, views.limits, settings)


def _with_engine(state: CoreState, engine: EngineView, limits: RiskLimits | None, settings: Settings) -> CoreState:
    equity, sod, limit = engine.equity_cents, engine.sod_cents, engine.day_limit_cents
    pnl = None if equity is None or sod is None else equity - sod
    unrealized = sum(p.qty * (_mark(p) - p.avg_cents) for p in engine.positions)
    return replace(
        state,
        account=Account(
            cash=from_cents(engine.cash_cents),
            equity=_money(equity),
            start_of_day_equity=_money(sod),
            currency=settings.currency,
        ),
        pnl=Pnl(
            daily=_money(pnl),
            realized=_money(None if pnl is None else pnl - unrealized),
            unrealized=from_cents(unrealized),
            limit=_money(limit),
            limit_text=str(settings.daily_loss_limit),
            used_fraction=_used(pnl, limit),
            history=engine.pnl_history,
        ),
        positions=tuple(_position(p) for p in engine.positions),
        orders=engine.orders,
        exposure=None if limits is None else _exposure(engine, limits),
        verdicts=engine.verdicts,
        enhancements=engine.enhancements,
        tuning=engine.tuning or None,  # left out until the tracker has stats
    )


def _money(cents: int | None) -> Money | None:
    return None if cents is None else from_cents(cents)


def _used(pnl_cents: int | None, limit_cents: int | None) -> Decimal | None:
    if pnl_cents is None or not limit_cents:
        return None
    return (from_cents(max(0, -pnl_cents)) / from_cents(limit_cents)).quantize(FRACTION)


def _mark(p: PositionView) -> int:
    """The latest price, or the average price until a bar for the symbol arrives."""
    return p.avg_cents if p.mark_cents is None else p.mark_cents


def _position(p: PositionView) -> Position:
    mark = _mark(p)
    return Position(
        symbol=p.symbol,
        qty=Decimal(p.qty),
        avg_price=from_cents(p.avg_cents),
        last_price=from_cents(mark),
        market_value=from_cents(p.qty * mark),
        unrealized_pnl=from_cents(p.qty * (mark - p.avg_cents)),
        strategy=p.strategy,
    )


def _exposure(engine: EngineView, limits: RiskLimits) -> Exposure:
    values = [(p.strategy, p.qty * _mark(p)) for p in engine.positions]
    equity = Decimal(0) if engine.equity_cents is None else from_cents(engine.equity_cents)
    cent = from_cents(1)
    gross = from_cents(sum(v for _s, v in values))
    return Exposure(
        gross=gross,
        net=gross,  # long only
        gross_limit=Money((equity * limits.gross).quantize(cent)),
        allocations=types.MappingProxyType(
            {
                name: Allocation(
                    limit=Money((equity * share).quantize(cent)),
                    used=from_cents(sum(v for s, v in values if s == name)),
                )
                for name, share in limits.alloc.items()
            }
        ),
    )
