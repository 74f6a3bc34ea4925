"""Small builders shared by the enhancement and gate tests."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from tbot_core.config import Settings
from tbot_core.enhancements.base import EnhancementEnv
from tbot_core.identity import Identity
from tbot_core.signals import IndicatorSnapshot, Signal

WINTER_TS = datetime(2026, 1, 6, 16, 0, tzinfo=UTC)
IDENTITY = Identity("TBOT_PAPER_01", "US", "PAPER")


def snap(ts=WINTER_TS, **values) -> IndicatorSnapshot:
    base = dict(close=100.0, bars=100, adx=20.0, bb_upper=102.0, bb_middle=100.0, bb_lower=98.0, atr=1.0, vwap=100.0)
    return IndicatorSnapshot(ts=ts, **{**base, **values})


def signal(strategy="mid", symbol="AAPL", side="buy", price="100", ts=WINTER_TS, **context) -> Signal:
    return Signal(ts, strategy, symbol, side, Decimal(price), "test", context)


def env(paths, settings: Settings | None = None, broker="paper", **kw) -> EnhancementEnv:
    return EnhancementEnv(settings or Settings(), IDENTITY, paths, broker, **kw)
