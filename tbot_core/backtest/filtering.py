"""Backtest signals go through the live gate, with the same config toggles.

``--filters a,b`` switches exactly those modules on (and the others off) by
overriding their config toggles, so the modules themselves never learn they
are in a backtest; ``--no-filters`` switches every toggle off (the fast path
then skips the gate; the live engine keeps its always-on ticker blocklist).
The fast path's gate runs in its offline form: no audit log, no strategy log,
no session file — it writes nothing but the backtest's own outputs.  The
fundamental guard reads the point-in-time file, as of each signal's time.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from tbot_core.config import Settings
from tbot_core.enhancements.registry import MODULES
from tbot_core.errors import ConfigError
from tbot_core.gate import Gate
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths
from tbot_core.signals import MarketContext, Signal
from tbot_core.strategies.registry import STRATEGIES
from tbot_core.timeutil import iso_z

if TYPE_CHECKING:
    from tbot_core.backtest.fundamentals import PointInTimeFundamentals


@dataclass(frozen=True)
class FilterVerdict:
    allow: bool
    module: str
    reason: str


class SignalFilter(Protocol):
    modules: list[str]

    def decide(self, signal: Signal) -> FilterVerdict: ...

    def chains(self, strategies: list[str]) -> dict[str, list[str]]: ...


def strategy_chains(gate: Gate, strategies: list[str]) -> dict[str, list[str]]:
    """Per strategy, the modules the gate runs on its entries: the blocklist, then its enabled filters.

    Read from the gate's own ``enhancement_status`` (what state.json shows) and
    the strategy's declared enhancements, in the order the gate runs them.
    """
    enabled = {row.module for row in gate.enhancement_status() if row.enabled}
    return {
        name: [
            gate.blocklist.name,
            *(m for m in STRATEGIES[name].enhancements if m in enabled and gate.modules[m].is_filter),
        ]
        for name in strategies
    }


class GateFilter:
    """Adapts the live gate to backtest signals (market context recorded in the signal)."""

    def __init__(self, gate: Gate, modules: list[str], fundamentals: PointInTimeFundamentals | None) -> None:
        self.gate = gate
        self.modules = modules
        self.fundamentals = fundamentals
        self._now: str | None = None
        if fundamentals is not None:
            fundamentals.today = lambda: self._now

    def decide(self, signal: Signal) -> FilterVerdict:
        self._now = iso_z(signal.ts)
        decision = self.gate.decide(signal, MarketContext.from_signal(signal))
        if decision.allow:
            # The fast path has no risk step: every allowed signal becomes an order, so it is sent here.
            self.gate.order_sent(signal)
            return FilterVerdict(True, "", decision.reason)
        blocker = next((v.module for v in decision.verdicts if not v.allow), "gate")
        return FilterVerdict(False, blocker, decision.reason)

    def chains(self, strategies: list[str]) -> dict[str, list[str]]:
        return strategy_chains(self.gate, strategies)


def toggled_settings(settings: Settings, only: list[str]) -> Settings:
    filters = {cls.name: cls for cls in MODULES if cls.is_filter}
    unknown = [name for name in only if name not in filters]
    if unknown:
        raise ConfigError(f"--filters: unknown module {unknown[0]!r}; expected some of {', '.join(sorted(filters))}")
    overrides = {
        cls.toggle.upper(): ("true" if name in only else "false") for name, cls in filters.items() if cls.toggle
    }
    return settings.with_values(overrides)


def filter_settings(settings: Settings, *, only: list[str] | None, no_filters: bool, fundamentals: bool) -> Settings:
    """The filter toggles a backtest runs with: ``--filters``/``--no-filters``, and the fundamental guard
    switched off when there is no point-in-time file (live it would call Finnhub for today's figures)."""
    toggles = [] if no_filters else only
    effective = toggled_settings(settings, toggles) if toggles is not None else settings
    if not fundamentals and effective.fundamental_guard_enabled:
        effective = effective.with_values({"FUNDAMENTAL_GUARD_ENABLED": "false"})
    return effective


def build_filter(
    settings: Settings,
    *,
    paths: HomePaths,
    identity: Identity,
    fundamentals: PointInTimeFundamentals | None = None,
) -> SignalFilter:
    """The fast path's gate over ``settings`` as ``filter_settings`` made them."""
    gate = Gate(
        settings, identity, paths, audit=None, broker_code=settings.broker, fundamentals=fundamentals, persist=False
    )
    modules = [status.module for status in gate.enhancement_status() if status.enabled]
    return GateFilter(gate, modules, fundamentals)
