"""The one base class every enhancement module derives from, and the verdict it produces.

A module answers ``Outcome(allow, reason, context)``; the gate times it and
turns it into a ``Verdict``.  A module that cannot decide from the signal's
own data (no indicator state, a quote it cannot price) blocks and says why:
fail closed.  A module whose *data source* failed (Finnhub down, VIX missing,
no imbalance feed, an unreadable session file) answers ``unavailable(kind,
...)``: alone that blocks too, and the gate treats it like a module that
*raises*: audit-logged (rate-limited per module and kind), then the trade is
blocked if the module's ``*_FATAL`` setting is true, or judged on core logic
without that module (the verdict says so) if it is false.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, ClassVar, NamedTuple

from tbot_core.config import Settings
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths
from tbot_core.selfcheck import CheckResult
from tbot_core.settings_keys import Key
from tbot_core.signals import IndicatorSnapshot, MarketContext, Signal
from tbot_core.timeutil import iso_z, utc_now

if TYPE_CHECKING:
    from tbot_core.audit import AuditLog

# Indicator state older than this (relative to the signal) is stale.
MAX_SNAPSHOT_AGE = timedelta(minutes=5)


class Outcome(NamedTuple):
    allow: bool
    reason: str
    context: Mapping[str, Any]
    # The kind of data-source failure (e.g. "vix_missing") when the module could not judge at all; None for a
    # verdict on the signal.  The gate applies the module's *_FATAL setting to a failure.
    failure: str | None = None


def allow(reason: str, **context: Any) -> Outcome:
    return Outcome(True, reason, context)


def block(reason: str, **context: Any) -> Outcome:
    return Outcome(False, reason, context)


def unavailable(kind: str, reason: str, **context: Any) -> Outcome:
    """The module's data source failed: a block on its own; the gate audits it and applies ``*_FATAL``."""
    return Outcome(False, reason, context, kind)


@dataclass(frozen=True, slots=True)
class Verdict:
    module: str
    allow: bool
    reason: str
    context: Mapping[str, Any]
    latency_us: float

    def to_record(self, signal: Signal) -> dict[str, Any]:
        """The strategy-log / state.json ``verdicts`` row for this verdict on ``signal``."""
        return {
            "ts_utc": iso_z(signal.ts),
            "strategy": signal.strategy,
            "symbol": signal.symbol,
            "side": signal.side,
            "module": self.module,
            "allow": self.allow,
            "reason": self.reason,
            "context": plain(self.context),
            "latency_us": round(self.latency_us, 1),
        }


def plain(value: Any) -> Any:
    """A JSON-safe copy: Decimal as string, times as UTC ``Z``, non-finite floats as null."""
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if value is None or isinstance(value, (bool, int, str)):
        return value
    if isinstance(value, datetime):
        return iso_z(value)
    if isinstance(value, (Decimal, date)):
        return str(value)
    if isinstance(value, IndicatorSnapshot):
        return plain(value.as_dict())
    return str(value)


@dataclass
class EnhancementEnv:
    """What modules are built from: config, identity, where files live, which broker."""

    settings: Settings
    identity: Identity
    paths: HomePaths
    broker_code: str
    audit: AuditLog | None = None
    fundamentals: Any = None
    clock: Callable[[], datetime] = field(default=utc_now)
    # False in a backtest: modules keep their memory in-process and write no file.
    persist: bool = True


class Enhancement:
    name: ClassVar[str]
    # Settings attribute of the module's *_FATAL key: true = a failure blocks the trade, false = the trade is
    # judged on core logic without the module.  Every module declares one (tests/tbot_core/test_settings_keys.py).
    fatal_key: ClassVar[str | None] = None
    # The .env_bot keys this module owns (declared in tbot_core/settings_keys/, where the config layer reads them).
    keys: ClassVar[tuple[Key, ...]] = ()
    # Settings attribute that switches the module on; None means always on.
    toggle: ClassVar[str | None] = None
    # False for modules the gate does not ask about each signal (startup check, tracker).
    is_filter: ClassVar[bool] = True

    def __init__(self, env: EnhancementEnv) -> None:
        self.env = env
        self.settings = env.settings

    @property
    def enabled(self) -> bool:
        return True if self.toggle is None else bool(getattr(self.settings, self.toggle))

    @property
    def fatal(self) -> bool:
        return False if self.fatal_key is None else bool(getattr(self.settings, self.fatal_key))

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        raise NotImplementedError(f"{self.name} is not a per-signal filter")

    def self_check(self) -> CheckResult:
        if not self.enabled:
            return CheckResult.passed(self.name, f"disabled ({self.toggle.upper() if self.toggle else ''}=false)")
        return self.check_ready()

    def check_ready(self) -> CheckResult:
        return CheckResult.passed(self.name, "ready")


def snapshot_for(signal: Signal, market: MarketContext, need_bars: int) -> tuple[IndicatorSnapshot | None, str]:
    """The indicator state a filter may judge ``signal`` by, or None and why not."""
    snap = market.indicators.get(signal.symbol) or signal.context.get("indicators")
    if not isinstance(snap, IndicatorSnapshot):
        return None, f"no indicator state for {signal.symbol}"
    if snap.bars < need_bars:
        return None, f"{signal.symbol}: only {snap.bars} sound bars, need {need_bars}"
    if signal.ts - snap.ts > MAX_SNAPSHOT_AGE:
        return (
            None,
            f"{signal.symbol}: indicator state from {iso_z(snap.ts)} is stale for a signal at {iso_z(signal.ts)}",
        )
    return snap, ""


def finite_positive(*values: float) -> bool:
    return all(isinstance(v, (int, float)) and math.isfinite(v) and v > 0 for v in values)
