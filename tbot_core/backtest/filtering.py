"""Backtest signals go through the live gate, with the same config toggles.

``--filters a,b`` switches exactly those modules on (and the others off) by
overriding their config toggles, so the modules themselves never learn they
are in a backtest; ``--no-filters`` skips the gate.  The gate runs in its
offline form: no audit log, no strategy log, no session file — a backtest
writes nothing but its own outputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from tbot_core.config import Settings
from tbot_core.enhancements.registry import MODULES
from tbot_core.errors import ConfigError
from tbot_core.gate import Gate
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths
from tbot_core.signals import MarketContext, Signal


@dataclass(frozen=True)
class FilterVerdict:
    allow: bool
    module: str
    reason: str


class SignalFilter(Protocol):
    modules: list[str]

    def decide(self, signal: Signal) -> FilterVerdict: ...


class GateFilter:
    """Adapts the live gate to backtest signals (market context recorded in the signal)."""

    def __init__(self, gate: Gate, modules: list[str]) -> None:
        self.gate = gate
        self.modules = modules

    def decide(self, signal: Signal) -> FilterVerdict:
        decision = self.gate.decide(signal, MarketContext.from_signal(signal))
        if decision.allow:
            return FilterVerdict(True, "", decision.reason)
        blocker = next((v.module for v in decision.verdicts if not v.allow), "gate")
        return FilterVerdict(False, blocker, decision.reason)


def toggled_settings(settings: Settings, only: list[str]) -> Settings:
    filters = {cls.name: cls for cls in MODULES if cls.is_filter}
    unknown = [name for name in only if name not in filters]
    if unknown:
        raise ConfigError(f"--filters: unknown module {unknown[0]!r}; expected some of {', '.join(sorted(filters))}")
    overrides = {
        cls.toggle.upper(): ("true" if name in only else "false") for name, cls in filters.items() if cls.toggle
    }
    return settings.with_values(overrides)


def build_filter(settings: Settings, *, paths: HomePaths, identity: Identity, only: list[str] | None) -> SignalFilter:
    effective = toggled_settings(settings, only) if only is not None else settings
    gate = Gate.offline(effective, identity, paths)
    modules = [status.module for status in gate.enhancement_status() if status.enabled]
    return GateFilter(gate, modules)
