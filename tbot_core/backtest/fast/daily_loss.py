"""The kill switch's daily-loss check over whole stretches of bars at once.

The engine marks every bar's close, then judges daily PnL = equity now minus
the equity at the UTC day's first bar; ``DAILY_LOSS_LIMIT`` breached (or
PnL unknown) halts trading for good.  Between two fills the positions and
the cash do not change, so the equity of every bar in between is one array
expression (cash + shares x forward-filled marks); the check runs over that
stretch only when the loop needs to know (a signal reached the kill switch,
a fill is about to change the positions, the end of the run).

Most runs never halt, so the loop first runs *optimistically*: every check
answers "not halted" and only notes the latest bar it was asked about; at the
end ``judge_run`` judges every bar at once from the fills (one array pass).
If the first breach comes after the last check, the run is exactly what the
careful watch makes (no check could have seen it; the end-of-run check finds
it at the same bar); otherwise ``trusted`` is False and the run is made again
with the careful watch.
"""

from __future__ import annotations

from typing import Any, cast

import numpy as np

from tbot_core.backtest.fast.timeline import Timeline
from tbot_core.config import Settings
from tbot_core.money import from_cents
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.timeutil import iso_z

SHORT = 48  # stretches of at most this many bars are judged in a plain loop


class _Limits:
    """What ``KillSwitch.limit_cents`` reads: the settings (so the limit is the kill switch's own arithmetic)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings


class DailyLossWatch:
    def __init__(self, timeline: Timeline, settings: Settings, *, optimistic: bool = False) -> None:
        self.timeline = timeline
        self.optimistic = optimistic
        self.last_check = -1  # optimistic: the latest bar a check was asked about
        self.settings = settings
        self._limits = cast(Any, _Limits(settings))
        self.checked = -1  # the last bar of the stream judged so far
        self.day: int | None = None
        self.sod = 0
        self.limit = 0
        self.triggered_at: int | None = None
        self.cause = ""

    def limit_cents(self, sod: int) -> int:
        return int(KillSwitch.limit_cents(self._limits, sod))

    def halted(self, upto: int, cash: int, positions: dict[str, tuple[int, str]]) -> bool:
        """Judge every bar through ``upto`` with this cash and these positions; True once halted."""
        if self.optimistic:
            self.last_check = max(self.last_check, upto)
            return False
        if self.triggered_at is not None:
            return True
        if upto <= self.checked:
            return False
        a, b = self.checked + 1, upto + 1
        self.checked = upto
        if not positions:
            return self._flat(a, b, cash)
        if b - a <= SHORT:
            return self._short(a, b, cash, positions)
        equity = np.full(b - a, cash, dtype=np.int64)
        for symbol, (qty, _owner) in positions.items():
            t = self.timeline.per[symbol]
            local = np.searchsorted(t.gpos, np.arange(a, b), side="right") - 1
            equity += qty * t.cents[local]
        days = self.timeline.day[a:b]
        new = np.flatnonzero(days[1:] != days[:-1]) + 1
        if days[0] != self.day:
            new = np.concatenate(([0], new))
        sod = np.full(b - a, self.sod, dtype=np.int64)
        limit = np.full(b - a, self.limit, dtype=np.int64)
        bounds = [*new.tolist(), b - a]
        for start, end in zip(bounds[:-1], bounds[1:]):
            value = int(equity[start])
            sod[start:end] = value
            limit[start:end] = self.limit_cents(value)
        breach = np.flatnonzero(sod - equity > limit)
        if breach.size:
            i = int(breach[0])
            return self._trigger(a + i, int(equity[i] - sod[i]), int(limit[i]))
        self.day, self.sod, self.limit = int(days[-1]), int(sod[-1]), int(limit[-1])
        return False

    def _short(self, a: int, b: int, cash: int, positions: dict[str, tuple[int, str]]) -> bool:
        """A few bars: the same judgement bar by bar in Python (array set-up costs more than it saves here)."""
        tl = self.timeline
        rank = {tl.symbols.index(symbol): symbol for symbol in positions}
        marks = {}
        for symbol in positions:
            t = tl.per[symbol]
            marks[symbol] = int(t.cents[int(np.searchsorted(t.gpos, a, side="right")) - 1])
        days, ranks, locals_ = tl.day[a:b].tolist(), tl.order_symbol[a:b].tolist(), tl.order_local[a:b].tolist()
        qty = {symbol: held[0] for symbol, held in positions.items()}
        equity = cash + sum(qty[s] * marks[s] for s in positions)
        for j, (day, r, k) in enumerate(zip(days, ranks, locals_)):
            held = rank.get(r)
            if held is not None and j:  # bar a's own mark is already in (the latest bar at or before a)
                mark = int(tl.per[held].cents[k])
                equity += qty[held] * (mark - marks[held])  # whole cents: the same sum, updated
                marks[held] = mark
            if day != self.day:
                self.day, self.sod, self.limit = day, equity, self.limit_cents(equity)
            if self.sod - equity > self.limit:
                return self._trigger(a + j, equity - self.sod, self.limit)
        return False

    def _flat(self, a: int, b: int, cash: int) -> bool:
        """Nothing held: equity is the cash on every bar, so only the day's start can move the verdict."""
        days = self.timeline.day
        if days[a] == self.day and -(cash - self.sod) > self.limit:  # the rest of a day that began before
            return self._trigger(a, cash - self.sod, self.limit)
        if days[b - 1] != self.day:  # new days began: each starts from this cash (PnL 0)
            first_new = a if days[a] != self.day else int(np.searchsorted(days, days[a], side="right"))
            limit = self.limit_cents(cash)
            if 0 > limit:
                return self._trigger(first_new, 0, limit)
            self.day, self.sod, self.limit = int(days[b - 1]), cash, limit
        return False

    @property
    def trusted(self) -> bool:
        """An optimistic run's checks all answered as the careful watch would (after ``judge_run``)."""
        return self.triggered_at is None or self.triggered_at > self.last_check

    def judge_run(self, cash0: int, changes: list[tuple[int, int, str, int]]) -> None:
        """Every bar of the stream judged at once, from the starting cash and the fills' changes in order.

        ``changes``: per fill, (its stream bar, the cash after it, its symbol, the shares held after it).  A
        fill's bar is judged before it (the loop checks, then orders): its change counts from the next bar.
        """
        tl = self.timeline
        total = tl.total
        if total == 0:
            return
        # Equity by its changes from bar to bar, summed (whole cents: any order of the sum is the same sum).
        at = np.array([g for g, _, _, _ in changes], dtype=np.int64)  # the fills' stream bars, in order
        delta = np.zeros(total + 1, dtype=np.int64)
        delta[0] = cash0
        np.add.at(delta, at + 1, np.diff(np.array([cash0, *(cash for _, cash, _, _ in changes)], dtype=np.int64)))
        for symbol in dict.fromkeys(symbol for _, _, symbol, _ in changes):
            t = tl.per[symbol]
            held, qty, moves = [0], 0, []
            for g, _, other, shares in changes:
                if other == symbol:
                    moves.append((g, shares - qty))
                    qty = shares
                held.append(qty)
            # At each of its bars: the shares held then (fills before that bar) times the mark's move.
            shares_at = np.array(held, dtype=np.int64)[np.searchsorted(at, t.gpos, side="left")]
            delta[t.gpos[1:]] += shares_at[1:] * np.diff(t.cents)
            # After each of its fills: the change in shares times the mark at the fill's bar.
            bars = np.array([g for g, _ in moves], dtype=np.int64)
            marks = t.cents[np.searchsorted(t.gpos, bars, side="right") - 1]
            np.add.at(delta, bars + 1, np.array([d for _, d in moves], dtype=np.int64) * marks)
        equity = np.cumsum(delta[:total])
        days = tl.day
        starts = np.r_[0, np.flatnonzero(days[1:] != days[:-1]) + 1]
        sod = equity[starts]
        limit = np.array([self.limit_cents(v) for v in sod.tolist()], dtype=np.int64)
        breach = np.flatnonzero(equity < np.repeat(sod - limit, np.diff(np.r_[starts, total])))  # sod - equity > limit
        if breach.size:
            i = int(breach[0])
            d = int(np.searchsorted(starts, i, side="right")) - 1
            self._trigger(i, int(equity[i] - sod[d]), int(limit[d]))

    def _trigger(self, at: int, pnl: int, limit: int) -> bool:
        self.triggered_at = at
        self.cause = (
            f"daily PnL {from_cents(pnl)} breached DAILY_LOSS_LIMIT {self.settings.daily_loss_limit} "
            f"(limit {from_cents(limit)})"
        )
        return True

    def since(self) -> str | None:
        """The UTC time of the bar that halted trading (the fast engine has no wall clock to stamp)."""
        if self.triggered_at is None:
            return None
        symbol = self.timeline.symbols[int(self.timeline.order_symbol[self.triggered_at])]
        return iso_z(self.timeline.per[symbol].stamp(int(self.timeline.order_local[self.triggered_at])))
