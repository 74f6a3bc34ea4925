"""The one function that builds a core's parts from a home.

The supervisor, the tests and the benches all call ``build_parts``.  Tests
inject faults by passing ``Fakes`` (wrappers from ``tests/fakes/``) into it;
nothing in the operator's config can switch a fault on, so a production home
cannot run with a test hook by mistake.  Every failure while building a part
is raised as a ``PartBuildError`` that names the part, so the startup pipeline
reports it like any failed self-check (module, UTC, hint).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, TypeVar

from tbot_core.brokers.base import Broker
from tbot_core.brokers.factory import make_broker
from tbot_core.config import Settings
from tbot_core.context import CoreContext
from tbot_core.core_store import CoreStore
from tbot_core.data.base import Feed
from tbot_core.data.factory import make_feed
from tbot_core.data.market import MarketFeed, build_market_data
from tbot_core.errors import TbotError
from tbot_core.gate import Gate
from tbot_core.home import BotHome
from tbot_core.safety.notifier_bot import Notifier, secret_store_loader
from tbot_core.safety.risk_bot import RiskBot
from tbot_core.sanitize import scrub
from tbot_core.strategies.base import BarStrategy
from tbot_core.strategies.registry import build_strategies
from tbot_core.syslog import SystemLog

_Part = TypeVar("_Part")


def _same(part: _Part) -> _Part:
    return part


@dataclass(frozen=True)
class Fakes:
    """What a test may put in place of (or around) a real part. Production passes none."""

    broker: Callable[[Broker], Broker] = _same
    feed: Callable[[Feed], Feed] = _same
    notifier: Callable[[Notifier], Notifier] = _same
    strategies: Callable[[Settings], list[BarStrategy]] = field(default=lambda _settings: [])
    gate: Callable[[Gate], Gate] = _same


class PartBuildError(TbotError):
    """A part of the core could not be built: launch is blocked like a failed self-check."""

    def __init__(self, module: str, detail: str, hint: str) -> None:
        super().__init__(f"{module}: {detail}", hint=hint)
        self.module, self.detail = module, detail


@dataclass
class CoreParts:
    """The long-lived parts the supervisor owns; the engine and the feed are made per start."""

    notifier: Notifier
    broker: Broker
    gate: Gate
    risk: RiskBot
    make_feed: Callable[[str | None], Feed]
    make_strategies: Callable[[], list[BarStrategy]]


def _build(module: str, hint: str, make: Callable[[], Any]) -> Any:
    try:
        return make()
    except TbotError as exc:
        raise PartBuildError(module, exc.one_line(), exc.hint or hint) from None
    except Exception as exc:
        raise PartBuildError(module, f"{type(exc).__name__}: {scrub(str(exc))[:200]}", hint) from None


def build_notifier(home: BotHome, syslog: SystemLog, fakes: Fakes | None = None) -> Notifier:
    """Built before anything else: a launch that is blocked must still be able to alert."""
    s, fakes = home.settings, fakes or Fakes()
    return fakes.notifier(
        Notifier(
            secret_store_loader(home),
            syslog,
            bot_identity=home.identity.BOT_IDENTITY,
            enabled=s.notify_on_critical,
            timeout_s=float(s.notify_webhook_timeout_seconds),
        )
    )


def build_parts(
    home: BotHome,
    ctx: CoreContext,
    store: CoreStore,
    notifier: Notifier,
    fakes: Fakes | None = None,
    *,
    fundamentals: Any = None,
) -> CoreParts:
    """Every part of a core, in dependency order; the first that cannot be built raises ``PartBuildError``.

    The parts read the context's settings, the ones the engine and the kill
    switch read too: the supervisor's context carries the home's settings, and
    a test or a bench that needs other values builds its context with
    ``home.settings.with_values(...)`` instead of wiring parts by hand.
    ``fundamentals`` is the fundamental guard's data source: None (the core)
    means Finnhub; the backtest passes its point-in-time file instead.  The
    feeds it makes carry their ``MarketData`` (``tbot_core.data.market``): the
    engine gets every filter's market context from there, for every broker.
    """
    fakes = fakes or Fakes()
    s = ctx.settings
    broker = _build(
        "broker",
        f"check BROKER={s.broker} and its secret (`tbot secrets list`)",
        lambda: fakes.broker(make_broker(home, s, store=store)),
    )
    if fundamentals is None and s.fundamental_guard_enabled:  # one Finnhub source for market data and the guard
        from tbot_core.data.finnhub import FinnhubFundamentals

        fundamentals = FinnhubFundamentals(s, ctx.paths)
    gate = _build(
        "gate",
        "see the enhancement settings (`tbot config show`)",
        lambda: fakes.gate(
            Gate(s, ctx.identity, ctx.paths, audit=ctx.audit, broker_code=broker.code, fundamentals=fundamentals)
        ),
    )
    risk = _build("risk_bot", "check the risk and allocation settings", lambda: RiskBot(s))

    def feed(start_after: str | None) -> Feed:
        """The feed with its market data: VIX, fundamentals and imbalance from the configured sources."""
        raw = fakes.feed(make_feed(home, s, start_after=start_after))
        return MarketFeed(raw, build_market_data(raw, s, ctx.paths, fundamentals=fundamentals))

    def strategies() -> list[BarStrategy]:
        return [*build_strategies(s), *fakes.strategies(s)]

    _build("strategies", "check the STRAT_* settings", strategies)
    return CoreParts(notifier=notifier, broker=broker, gate=gate, risk=risk, make_feed=feed, make_strategies=strategies)
