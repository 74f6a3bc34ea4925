"""The path-dependent part of the fast engine: one loop over candidate events, in the engine's order.

Events are (bar of the stream, strategy, kind) in the order the engine meets
them: bar by bar, each bar's strategies in ``build_strategies`` order, and
within one strategy its exit before its entries (``decide`` checks exits
first and returns one signal).  Entry and sell candidates are known up
front; an exit candidate is only looked up once the strategy holds the
symbol (the next exit bar after its fill).  Each signal then takes the
engine's path (``runtime/engine.py``, ``_handle_signal``): a sell the
strategy does not hold is dropped; a buy of a symbol another strategy holds
is refused; the real ``Gate`` decides with the ``MarketContext`` the real
``MarketData`` builds; the daily-loss kill switch is judged through the
signal's bar; the real ``RiskBot`` sizes it; the paper account fills it;
the gate is told the order was sent (the ticker blocklist).

Most entries never get that far: their ticker is used for the session, or
an indicator filter blocks them.  For those the gate answers without a
signal (``Gate.used_ticker_block``, ``Gate.array_block`` with the verdicts
``entry_filters`` computed over arrays), counting them as ``decide`` does;
every entry they do not block takes the whole path above.
"""

from __future__ import annotations

import heapq
import math
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from tbot_core.backtest.fast import close_rule, entry_filters, mid_rule, open_rule
from tbot_core.backtest.fast.account import PaperAccount
from tbot_core.backtest.fast.daily_loss import DailyLossWatch
from tbot_core.backtest.fast.entry_filters import NONE
from tbot_core.backtest.fast.exact import Indicators, SnapshotTable
from tbot_core.backtest.fast.rules import Candidates, Rule
from tbot_core.backtest.fast.timeline import SymbolTimeline, Timeline
from tbot_core.backtest.filtering import strategy_chains
from tbot_core.config import Settings
from tbot_core.data.market import MarketData
from tbot_core.errors import LogicError
from tbot_core.gate import Gate
from tbot_core.money import from_cents
from tbot_core.safety.risk_bot import Holding, RiskBot
from tbot_core.signals import Side, Signal
from tbot_core.timeutil import iso_z

RULES: dict[str, Rule] = {"open": open_rule.candidates, "mid": mid_rule.candidates, "close": close_rule.candidates}
# Gate modules that read the indicator snapshot a signal carries; other chains never look at it.
SNAPSHOT_READERS = frozenset({"adx_filter", "bollinger_confluence"})
EXIT, SELL, BUY = 0, 1, 2
Event = tuple[int, int, int, int, int]  # (stream bar, strategy rank, kind, symbol rank, the symbol's bar)


class EventLoop:
    def __init__(
        self,
        timeline: Timeline,
        names: list[str],
        settings: Settings,
        gate: Gate,
        market: MarketData,
        vix: ReplayVix,
        set_now: Callable[[datetime], None],
    ) -> None:
        self.tl, self.names, self.settings = timeline, names, settings
        self.gate, self.market, self.vix, self.set_now = gate, market, vix, set_now
        self.risk = RiskBot(settings)
        self.account = PaperAccount(settings)
        self.watch = DailyLossWatch(timeline, settings)
        self.adx_threshold = float(settings.adx_threshold)
        self.chains = strategy_chains(gate, names)
        self.snapshots = {name: bool(SNAPSHOT_READERS & set(self.chains[name])) for name in names}
        num_std = float(settings.bollinger_num_std)
        self.ind = {
            s: Indicators(t, settings.adx_period, settings.bollinger_period, num_std) for s, t in timeline.per.items()
        }
        self.cands: dict[tuple[int, int], Candidates] = {}
        self.snaps: dict[tuple[int, int], SnapshotTable] = {}
        # Per strategy, the filters judged over arrays; per (strategy, symbol) and buy candidate bar: the
        # session day (None: no session, or a price the gate refuses first) and the first of them that blocks.
        self.prejudged = [entry_filters.leading(self.chains[name]) for name in names]
        self.quick: dict[tuple[int, int], dict[int, tuple[date | None, int]]] = {}
        self.signals = {name: 0 for name in names}
        self.blocks: dict[str, dict[str, int]] = {name: {} for name in names}
        self.orders = {name: 0 for name in names}
        self.flat_sells = 0
        self.exit_sent: set[tuple[int, int, int]] = set()  # (strategy, symbol, session): that session's exit is out
        self.pending: dict[tuple[int, int], int] = {}  # (strategy, symbol) -> stream bar of its next exit check
        self.heap: list[Event] = []
        self.fired: tuple[int, int, int] | None = None  # (strategy, symbol, bar) whose exit just fired

    # -- candidates ------------------------------------------------------------------------------
    def static_events(self) -> list[Event]:
        """Every entry and sell candidate of every strategy and symbol, in the engine's order."""
        parts: list[np.ndarray] = []
        for r, name in enumerate(self.names):
            for sr, symbol in enumerate(self.tl.symbols):
                t = self.tl.per[symbol]
                c = self.cands[(r, sr)] = RULES[name](t, self.ind[symbol], self.settings)
                first = [NONE] * c.buys.size
                if self.snapshots[name]:  # stamps are made when a signal needs one: most candidates never do
                    snaps = self.snaps[(r, sr)] = self.ind[symbol].snapshots(c.buys, self.adx_threshold)
                    if self.prejudged[r]:
                        first = entry_filters.blocks(self.prejudged[r], snaps, self.settings).tolist()
                self.quick[(r, sr)] = dict(zip(c.buys.tolist(), zip(self._entry_days(t, c.buys), first)))
                for kind, bars in ((SELL, c.sells), (BUY, c.buys)):
                    if bars.size:
                        cols = [t.gpos[bars], np.full(bars.size, r), np.full(bars.size, kind), np.full(bars.size, sr)]
                        parts.append(np.stack([*cols, bars]).astype(np.int64))
        if not parts:
            return []
        table = np.concatenate(parts, axis=1)
        order = np.lexsort((table[2], table[1], table[0]))
        return list(zip(*table[:, order].tolist()))

    def run(self) -> None:
        events = self.static_events()
        i, heap = 0, self.heap
        while i < len(events) or heap:
            if heap and (i >= len(events) or heap[0] < events[i]):
                g, r, kind, sr, k = heapq.heappop(heap)
            else:
                g, r, kind, sr, k = events[i]
                i += 1
            if kind == EXIT:
                self._exit(g, r, sr, k)
            elif self.fired != (r, sr, k):  # a bar whose exit fired emits nothing else
                self._sell_candidate(g, r, sr, k) if kind == SELL else self._buy(g, r, sr, k)
        self.watch.halted(self.tl.total - 1, self.account.cash, self.account.positions)

    def _schedule_exit(self, r: int, sr: int, k: int) -> None:
        """Look up the strategy's next exit bar after bar ``k`` (once it holds the symbol)."""
        t = self.tl.per[self.tl.symbols[sr]]
        exits = self.cands[(r, sr)].exits
        i = int(np.searchsorted(exits, k, side="right"))
        if i >= exits.size:
            self.pending.pop((r, sr), None)
            return
        nxt = int(exits[i])
        g = int(t.gpos[nxt])
        if self.pending.get((r, sr), g + 1) <= g:
            return  # an earlier check is already due
        self.pending[(r, sr)] = g
        heapq.heappush(self.heap, (g, r, EXIT, sr, nxt))

    # -- events ----------------------------------------------------------------------------------
    def _owned(self, symbol: str, name: str) -> bool:
        held = self.account.positions.get(symbol)
        return held is not None and held[1] == name

    def _exit(self, g: int, r: int, sr: int, k: int) -> None:
        if self.pending.get((r, sr)) != g:
            return  # superseded by a later lookup
        del self.pending[(r, sr)]
        name, symbol = self.names[r], self.tl.symbols[sr]
        if not self._owned(symbol, name):
            return
        key = (r, sr, int(self.tl.per[symbol].sess[k]))
        if key not in self.exit_sent:
            self.exit_sent.add(key)
            self.fired = (r, sr, k)
            reason = self.cands[(r, sr)].exit_why(k)
            self._sell(g, r, sr, k, self._signal(r, sr, k, "sell", reason, {"exit": True}))
        if self._owned(symbol, name):
            self._schedule_exit(r, sr, k)

    def _sell_candidate(self, g: int, r: int, sr: int, k: int) -> None:
        name, symbol = self.names[r], self.tl.symbols[sr]
        c = self.cands[(r, sr)]
        key = (r, sr, int(self.tl.per[symbol].sess[k]))
        if c.sells_respect_exit_sent and key in self.exit_sent:
            return  # mid: this session's exit is on its way, no second sell
        if not self._owned(symbol, name):
            self.flat_sells += 1  # long only: nothing of this strategy's to close
            return
        self.exit_sent.add(key)
        reason, extra = c.why(k, "sell")
        self._sell(g, r, sr, k, self._signal(r, sr, k, "sell", reason, extra))
        if self._owned(symbol, name):
            self._schedule_exit(r, sr, k)

    def _buy(self, g: int, r: int, sr: int, k: int) -> None:
        name, symbol = self.names[r], self.tl.symbols[sr]
        held = self.account.positions.get(symbol)
        if held is not None and held[1] != name:
            return  # the engine refuses it before the gate: held by another strategy
        day, first = self.quick[(r, sr)][k]
        if day is not None:
            blocker = self._quick_block(r, name, symbol, day, first)
            if blocker is not None:
                self.signals[name] += 1
                per = self.blocks[name]
                per[blocker] = per.get(blocker, 0) + 1
                return
        reason, extra = self.cands[(r, sr)].why(k, "buy")
        signal = self._signal(r, sr, k, "buy", reason, extra, snapshot=self.snapshots[name])
        qty = self._through_gate_kill_and_risk(g, name, signal)
        if qty is None:
            return
        t = self.tl.per[symbol]
        self.orders[name] += 1
        if self.account.market_order(symbol, "buy", qty, int(t.cents[k]), name, signal.ts) is None:
            return  # the paper broker rejected it (cash): the ticker stays free
        self.gate.order_sent(signal)
        self._schedule_exit(r, sr, k)

    def _quick_block(self, r: int, name: str, symbol: str, day: date, first: int) -> str | None:
        """The module that blocks this entry, when the gate can say so without a signal; None: ask ``decide``.

        The ticker already used this session, or a filter judged over arrays (``entry_filters``).
        """
        if self.gate.used_ticker_block(name, symbol, day):
            return self.gate.blocklist.name
        if first == NONE:
            return None
        names = self.prejudged[r]
        if not self.gate.array_block(name, symbol, day, names[:first], names[first]):
            return None
        return names[first]

    @staticmethod
    def _entry_days(t: SymbolTimeline, buys: np.ndarray) -> list[date | None]:
        """Each candidate's session day; None without a session or with a price ``signal_problem`` refuses."""
        close = t.bars.close[buys]
        sess = t.sess[buys]
        valid = (sess >= 0) & (close > 0.0) & (close < math.inf)
        return [t.sessions[i].day if ok else None for i, ok in zip(sess.tolist(), valid.tolist())]

    def _sell(self, g: int, r: int, sr: int, k: int, signal: Signal) -> None:
        name, symbol = self.names[r], self.tl.symbols[sr]
        qty = self._through_gate_kill_and_risk(g, name, signal)
        if qty is None:
            return
        self.orders[name] += 1
        if self.account.market_order(symbol, "sell", qty, int(self.tl.per[symbol].cents[k]), name, signal.ts):
            self.gate.order_sent(signal)

    def _through_gate_kill_and_risk(self, g: int, name: str, signal: Signal) -> int | None:
        """The engine's checks after the strategy: gate, kill switch, risk bot. The shares to order, or None."""
        decision = self.gate.decide(signal, self.market.context(signal))
        self.signals[name] += 1
        per = self.blocks[name]
        if not decision.allow:
            module = next((v.module for v in decision.verdicts if not v.allow), "gate")
            per[module] = per.get(module, 0) + 1
            return None
        account = self.account
        if self.watch.halted(g, account.cash, account.positions):
            per["kill_switch"] = per.get("kill_switch", 0) + 1
            return None
        equity, holdings = self._book(g)
        risk = self.risk.check(
            strategy=name,
            symbol=signal.symbol,
            side=signal.side,
            price=signal.price,
            equity=from_cents(equity),
            holdings=holdings,
            defense=False,
        )
        if not risk.allow:
            per["risk_bot"] = per.get("risk_bot", 0) + 1
            return None
        return risk.qty

    def _book(self, g: int) -> tuple[int, dict[str, Holding]]:
        """Equity in cents and the holdings at stream bar ``g``, every held symbol marked at its latest close."""
        equity: int = self.account.cash
        holdings = {}
        for symbol, (qty, owner) in self.account.positions.items():
            t = self.tl.per[symbol]
            mark = int(t.cents[int(np.searchsorted(t.gpos, g, side="right")) - 1])
            equity += qty * mark
            holdings[symbol] = Holding(qty, from_cents(qty * mark), owner)
        return equity, holdings

    def _signal(
        self, r: int, sr: int, k: int, side: Side, reason: str, extra: dict[str, Any], *, snapshot: bool = False
    ) -> Signal:
        """The strategy's signal at bar ``k``, the market data moved to that bar's time as the engine moves it."""
        symbol = self.tl.symbols[sr]
        t = self.tl.per[symbol]
        ts: datetime = t.stamp(k)
        self.set_now(ts)
        self.vix.prime(ts, t.vix_at(k))
        vix = self.market.at(ts)
        context: dict[str, Any] = {"vix": vix, **extra}
        if snapshot:
            table = self.snaps.get((r, sr))
            snap = table.get(k) if table is not None else None
            context["indicators"] = snap if snap is not None else self.ind[symbol].snapshot(k, self.adx_threshold)
        close = float(t.bars.close[k])
        return Signal(ts, self.names[r], symbol, side, Decimal(repr(close)), reason, context)


class ReplayVix:
    """The replay feed's VIX (``ReplayFeed.vix``) as ``MarketData`` asks for it: the loop primes the answer."""

    def __init__(self) -> None:
        self._ts: datetime | None = None
        self._level: float | None = None

    def prime(self, ts: datetime, level: float | None) -> None:
        self._ts, self._level = ts, level

    def vix(self, ts: datetime) -> float | None:
        if ts != self._ts:
            raise LogicError(f"fast engine: VIX asked at {iso_z(ts)}, primed for another bar")
        return self._level
