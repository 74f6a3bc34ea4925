"""Builds the ``state.json`` payload (docs/state.md) from the running core's parts."""

from __future__ import annotations

import os
from typing import Any

from tbot_core import __version__
from tbot_core.core_store import from_cents
from tbot_core.timeutil import iso_z


def build_state(sup: Any) -> dict[str, Any]:
    settings, ident = sup.settings, sup.identity
    state: dict[str, Any] = {
        "mode": sup.mode(),  # read before the matrix (see Matrix in tbot_core/context.py)
        "core": {"pid": os.getpid(), "started_utc": sup.started_utc, "heartbeat_utc": iso_z(), "version": __version__},
        "identity": {
            "bot_identity": ident.BOT_IDENTITY,
            "jurisdiction": ident.JURISDICTION_CODE,
            "broker": settings.broker,
            "paper": settings.broker == "paper",
            "environment": settings.environment,
        },
        "self_check": [r.to_dict() for r in sup.checks],
        "workers": {
            "restarts": dict(sup.worker_restarts),
            "restart_window": {
                "restarts": sup.restart.attempts,
                "max": sup.restart.max_attempts,
                "window_s": sup.restart.window_s,
            },
        },
        "emergency_matrix": sup.ctx.matrix.rows() if sup.ctx else [],
        "defense_mode": {"active": sup.control.defense, "factor": str(settings.defense_mode_factor)},
        "config": settings.redacted(),
    }
    if sup.blocked_reason:
        state["blocked_reason"] = sup.blocked_reason
    if sup.kill is not None:
        state["kill_switch"] = sup.kill.snapshot()
    if sup.watchdog is not None:
        state["watchdog"] = sup.watchdog.snapshot()
    engine = sup.engine
    if engine is None or not engine.portfolio.refreshed:  # before the broker answered once there is no account
        return state
    portfolio = engine.portfolio
    equity_cents, _ = portfolio.equity_cents()
    sod = engine.sod_cents
    pnl_cents = None if equity_cents is None or sod is None else equity_cents - sod
    limit = engine.day_limit_cents
    state["account"] = {
        "cash": str(from_cents(portfolio.cash_cents)),
        "equity": None if equity_cents is None else str(from_cents(equity_cents)),
        "start_of_day_equity": None if sod is None else str(from_cents(sod)),
        "currency": settings.currency,
    }
    state["pnl"] = {
        "daily": None if pnl_cents is None else str(from_cents(pnl_cents)),
        "realized": None,
        "unrealized": _unrealized(portfolio),
        "limit": None if limit is None else str(from_cents(limit)),
        "limit_text": str(settings.daily_loss_limit),
        "used_fraction": _used(pnl_cents, limit),
        "history": list(engine.pnl_history),
    }
    if pnl_cents is not None:
        unreal = int(round(float(state["pnl"]["unrealized"]) * 100))
        state["pnl"]["realized"] = str(from_cents(pnl_cents - unreal))
    state["positions"] = portfolio.snapshot()
    state["orders"] = list(engine.orders)
    state["exposure"] = _exposure(sup, engine)
    state["verdicts"] = list(engine.verdicts)
    state["enhancements"] = engine.gate.enhancement_status()
    return state


def _unrealized(portfolio: Any) -> str:
    total = sum(qty * (portfolio.marks.get(sym, avg) - avg) for sym, (qty, avg, _s) in portfolio.positions.items())
    return str(from_cents(total))


def _used(pnl_cents: int | None, limit_cents: int | None) -> str | None:
    if pnl_cents is None or not limit_cents:
        return None
    return str((from_cents(max(0, -pnl_cents)) / from_cents(limit_cents)).quantize(from_cents(1) / 100))


def _exposure(sup: Any, engine: Any) -> dict[str, Any]:
    holdings = engine.portfolio.holdings()
    equity = engine.portfolio.equity()
    limits = engine.risk.limits(sup.control.defense)
    gross = sum((h.market_value for h in holdings.values()), from_cents(0))
    net = gross  # long only
    allocations = {
        name: {
            "limit": str((equity * share).quantize(from_cents(1))),
            "used": str(sum((h.market_value for h in holdings.values() if h.strategy == name), from_cents(0))),
        }
        for name, share in limits.alloc.items()
    }
    return {
        "gross": str(gross),
        "net": str(net),
        "gross_limit": str((equity * limits.gross).quantize(from_cents(1))),
        "allocations": allocations,
    }
