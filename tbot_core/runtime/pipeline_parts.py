"""The engine's pluggable parts: strategies and the gate, loaded by name.

The filters package is built by another part of the project; when it is not
importable the engine still runs but its gate blocks every signal with that
reason (fail closed: no unfiltered trade ever reaches the broker).  The
``TEST_SCRIPTED_SIGNAL_EVERY`` strategy exists for the scenario tests only.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from tbot_core.config import Settings
from tbot_core.data.base import Bar
from tbot_core.runtime.context import CoreContext
from tbot_core.signals import MarketContext, Signal


class UnavailableGate:
    """Stands in for a gate that could not be built; blocks everything and says why."""

    def __init__(self, reason: str) -> None:
        self.reason = reason

    def decide(self, signal: Signal, market: MarketContext) -> Any:
        return _Decision(False, self.reason, [])

    def enhancement_status(self) -> list[dict[str, Any]]:
        return []


class _Decision:
    def __init__(self, allow: bool, reason: str, verdicts: list) -> None:
        self.allow, self.reason, self.verdicts = allow, reason, verdicts


def build_gate(ctx: CoreContext, broker_code: str) -> Any:
    try:
        from tbot_core.gate import Gate
    except ImportError as exc:
        return UnavailableGate(f"filters unavailable ({exc.name or 'tbot_core.gate'} not importable): trade blocked")
    return Gate(ctx.settings, ctx.identity, ctx.paths, audit=ctx.audit, broker_code=broker_code)


def build_strategies(settings: Settings) -> list[Any]:
    strategies: list[Any] = []
    try:
        from tbot_core.strategies.registry import build_strategies as registry_build
    except ImportError:
        registry_build = None
    if registry_build is not None:
        strategies.extend(registry_build(settings))
    if settings.test_scripted_signal_every:
        strategies.append(ScriptedStrategy(settings.test_scripted_signal_every))
    return strategies


class ScriptedStrategy:
    """TEST ONLY: on every Nth bar, buy the bar's symbol, or sell it if the last signal was a buy."""

    name = "mid"

    def __init__(self, every: int) -> None:
        self.every = every
        self.count = 0
        self.long: set[str] = set()

    def on_bar(self, bar: Bar, vix: float | None) -> list[Signal]:
        self.count += 1
        if self.count % self.every:
            return []
        side = "sell" if bar.symbol in self.long else "buy"
        (self.long.discard if side == "sell" else self.long.add)(bar.symbol)
        return [Signal(bar.ts, self.name, bar.symbol, side, Decimal(str(bar.close)), "scripted test signal", {"vix": vix})]
