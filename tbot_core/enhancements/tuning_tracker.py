"""``tuning_tracker``: per-strategy win rate, PnL, drawdown and blocks by filter.

The gate reports every decision, the engine reports every closed trade; the
summary is written (atomically) to ``output/{BOT_IDENTITY}/logs/tuning_summary.json``
for the console and for later tuning.  It judges no signal.
"""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, EnhancementEnv
from tbot_core.fsutil import atomic_write_text
from tbot_core.selfcheck import CheckResult
from tbot_core.timeutil import iso_z


@dataclass
class StrategyStats:
    signals: int = 0
    allowed: int = 0
    blocks: Counter = field(default_factory=Counter)
    trades: int = 0
    wins: int = 0
    pnl: Decimal = Decimal("0")
    peak: Decimal = Decimal("0")
    max_drawdown: Decimal = Decimal("0")
    held_s: float = 0.0  # total holding time of the trades, for their mean

    @property
    def avg_duration_s(self) -> float | None:
        return round(self.held_s / self.trades, 1) if self.trades else None

    def as_dict(self) -> dict[str, Any]:
        win_rate = f"{Decimal(self.wins) / Decimal(self.trades):.4f}" if self.trades else None
        return {
            "signals": self.signals,
            "allowed": self.allowed,
            "trades": self.trades,
            "win_rate": win_rate,
            "pnl": str(self.pnl),
            "max_drawdown": str(self.max_drawdown),
            "avg_duration_s": self.avg_duration_s,
            "blocks": dict(self.blocks),
        }


class TuningTracker(Enhancement):
    name = "tuning_tracker"
    keys = settings_keys.tuning_tracker.KEYS
    toggle = "tuning_tracker_enabled"
    fatal_key = "tuning_tracker_fatal"
    is_filter = False

    def __init__(self, env: EnhancementEnv) -> None:
        super().__init__(env)
        self.stats: dict[str, StrategyStats] = {}
        self._dirty = False

    def _for(self, strategy: str) -> StrategyStats:
        stats = self.stats.get(strategy)
        if stats is None:
            stats = self.stats[strategy] = StrategyStats()
        return stats

    def observe(self, strategy: str, allowed: bool, blocked_by: str | None) -> None:
        stats = self._for(strategy)
        stats.signals += 1
        if allowed:
            stats.allowed += 1
        elif blocked_by:
            stats.blocks[blocked_by] += 1
        self._dirty = True

    def observe_blocked(self, strategy: str, blocked_by: str, times: int) -> None:
        """``observe(strategy, False, blocked_by)`` ``times`` times (the fast backtest's bulk blocks)."""
        if times < 1:
            return
        stats = self._for(strategy)
        stats.signals += times
        if blocked_by:
            stats.blocks[blocked_by] += times
        self._dirty = True

    def record_trade(self, strategy: str, pnl: Decimal, duration_s: float) -> None:
        """One closed round trip (``runtime.round_trips``): realised PnL in account currency, fees included."""
        stats = self._for(strategy)
        stats.trades += 1
        stats.held_s += duration_s
        stats.wins += pnl > 0
        stats.pnl += pnl
        stats.peak = max(stats.peak, stats.pnl)
        stats.max_drawdown = max(stats.max_drawdown, stats.peak - stats.pnl)
        self._dirty = True

    def summary(self) -> dict[str, dict[str, Any]]:
        """``tuning_summary.json``'s shape (state.json's ``tuning`` section is ``Gate.tuning_view``, typed)."""
        return {name: stats.as_dict() for name, stats in sorted(self.stats.items())}

    def flush(self) -> None:
        if not (self._dirty and self.enabled and self.env.persist):
            return
        path = self.env.paths.tuning_summary(self.env.identity.BOT_IDENTITY)
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(
            path,
            json.dumps({"written_utc": iso_z(self.env.clock()), "strategies": self.summary()}, indent=1),
            durable=False,
        )
        self._dirty = False

    def check_ready(self) -> CheckResult:
        folder = self.env.paths.logs_dir(self.env.identity.BOT_IDENTITY)
        if not folder.is_dir():
            return CheckResult.failed(
                self.name, f"{folder.relative_to(self.env.paths.root)}/ missing", "run `tbot init --force`"
            )
        return CheckResult.passed(self.name, "summary goes to logs/tuning_summary.json")
