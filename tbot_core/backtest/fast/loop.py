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
once a ticker is used, the strategy's remaining entries of the session are
counted at once (``used_ticker_blocks``), as are its sells while it holds
nothing (``bulk``).  Every entry they do not block takes the whole path
above, the gate skipping only the array filters that allowed it
(``Gate.decide_prejudged``).  The kill switch is judged optimistically
(``daily_loss``): ``run.py`` replays the run carefully in the rare case it
halted trading before a check.
"""

from __future__ import annotations

import bisect
import heapq
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any

import numpy as np

from tbot_core.backtest.fast import close_rule, entry_filters, mid_rule, open_rule
from tbot_core.backtest.fast.account import PaperAccount
from tbot_core.backtest.fast.bulk import Rest, Sells
from tbot_core.backtest.fast.daily_loss import DailyLossWatch
from tbot_core.backtest.fast.entry_filters import NONE
from tbot_core.backtest.fast.exact import Indicators, SnapshotTable
from tbot_core.backtest.fast.rules import Candidates, Rule
from tbot_core.backtest.fast.timeline import ReplayVix, Timeline
from tbot_core.backtest.filtering import strategy_chains
from tbot_core.config import Settings
from tbot_core.data.market import MarketData
from tbot_core.gate import Gate
from tbot_core.money import round_to_cents
from tbot_core.safety.risk_bot import Holding, RiskBot
from tbot_core.signals import Side, Signal

RULES: dict[str, Rule] = {"open": open_rule.candidates, "mid": mid_rule.candidates, "close": close_rule.candidates}
# Gate modules that read the indicator snapshot a signal carries; other chains never look at it.
SNAPSHOT_READERS = frozenset({"adx_filter", "bollinger_confluence"})
EXIT, SELL, BUY = 0, 1, 2
# An event: (stream bar, strategy rank, kind, symbol rank, the symbol's bar, its index among the strategy's sells
# or buys), in that order.  Exits wait in a heap as (stream bar x strategies + strategy rank, stream bar,
# strategy rank, symbol rank, the symbol's bar).
Exit = tuple[int, int, int, int, int]


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
        *,
        optimistic: bool = False,
    ) -> None:
        self.tl, self.names, self.settings = timeline, names, settings
        self.gate, self.market, self.vix, self.set_now = gate, market, vix, set_now
        self.risk = RiskBot(settings)
        self.account = PaperAccount(settings)
        self.watch = DailyLossWatch(timeline, settings, optimistic=optimistic)
        self.changes: list[tuple[int, int, str, int]] = []  # per fill: stream bar, cash, symbol, shares after
        self.adx_threshold = float(settings.adx_threshold)
        self.chains = strategy_chains(gate, names)
        self.snapshots = {name: bool(SNAPSHOT_READERS & set(self.chains[name])) for name in names}
        num_std = float(settings.bollinger_num_std)
        self.ind = {
            s: Indicators(t, settings.adx_period, settings.bollinger_period, num_std) for s, t in timeline.per.items()
        }
        self.cands: dict[tuple[int, int], Candidates] = {}
        self.exit_bars: dict[tuple[int, int], list[int]] = {}  # the candidates' exits, as lists (bisect)
        self.snaps: dict[tuple[int, int], SnapshotTable] = {}
        # Per strategy, the filters judged over arrays; per (strategy, symbol) and buy candidate: the first of
        # them that blocks it (``entry_filters.NONE``: none).
        self.prejudged = [entry_filters.leading(self.chains[name]) for name in names]
        # Per strategy: a filter after those reads the snapshot (else an entry they allow needs none).
        self.read_after = [
            bool(SNAPSHOT_READERS & set(self.chains[name][1 + len(self.prejudged[r]) :]))
            for r, name in enumerate(names)
        ]
        self.first: dict[tuple[int, int], list[int]] = {}
        # Per (strategy, symbol) rank r * symbols + sr: the used-ticker skip (``_skip_rest``).
        self.rest = [Rest.empty() for _ in range(len(names) * len(timeline.symbols))]
        self.sells = [Sells.empty() for _ in range(len(names) * len(timeline.symbols))]
        self.signals = {name: 0 for name in names}
        self.blocks: dict[str, dict[str, int]] = {name: {} for name in names}
        self.orders = {name: 0 for name in names}
        self.flat_sells = 0
        self.exit_sent: set[tuple[int, int, int]] = set()  # (strategy, symbol, session): that session's exit is out
        self.pending: dict[tuple[int, int], int] = {}  # (strategy, symbol) -> stream bar of its next exit check
        self.heap: list[Exit] = []
        self.fired: tuple[int, int, int] | None = None  # (strategy, symbol, bar) whose exit just fired

    # -- candidates ------------------------------------------------------------------------------
    def static_events(self) -> list[list[int]]:
        """Every entry and sell candidate of every strategy and symbol, in the engine's order, as columns.

        The columns (``Event``'s fields, then ``order``: stream bar x strategies + strategy rank) are lists of
        ints: a list per event would hand the garbage collector tens of thousands of objects to scan.
        """
        parts: list[np.ndarray] = []
        for r, name in enumerate(self.names):
            for sr, symbol in enumerate(self.tl.symbols):
                t = self.tl.per[symbol]
                c = self.cands[(r, sr)] = RULES[name](t, self.ind[symbol], self.settings)
                self.exit_bars[(r, sr)] = c.exits.tolist()
                first = [NONE] * c.buys.size
                if self.snapshots[name]:  # stamps are made when a signal needs one: most candidates never do
                    snaps = self.snaps[(r, sr)] = self.ind[symbol].snapshots(c.buys, self.adx_threshold)
                    if self.prejudged[r]:
                        first = entry_filters.blocks(self.prejudged[r], snaps, self.settings).tolist()
                self.first[(r, sr)] = first
                self.rest[r * len(self.tl.symbols) + sr] = Rest.of(t, c)
                self.sells[r * len(self.tl.symbols) + sr] = Sells.of(t, c)
                for kind, bars in ((SELL, c.sells), (BUY, c.buys)):
                    if bars.size:
                        cols = [t.gpos[bars], np.full(bars.size, r), np.full(bars.size, kind), np.full(bars.size, sr)]
                        parts.append(np.stack([*cols, bars, np.arange(bars.size)]).astype(np.int64))
        if not parts:
            return [[] for _ in range(7)]
        table = np.concatenate(parts, axis=1)
        table = table[:, np.lexsort((table[2], table[1], table[0]))]
        return [*table.tolist(), (table[0] * len(self.names) + table[1]).tolist()]

    def run(self) -> None:
        stream, ranks, kinds, symbols, bars, index, order = self.static_events()
        i, n, heap, rest, sells, width = 0, len(order), self.heap, self.rest, self.sells, len(self.tl.symbols)
        while i < n or heap:
            if heap and (i >= n or heap[0][0] <= order[i]):  # an exit goes first at its bar (EXIT < SELL < BUY)
                _, g, r, sr, k = heapq.heappop(heap)
                self._exit(g, r, sr, k)
                continue
            r, kind, sr, j = ranks[i], kinds[i], symbols[i], index[i]
            g, k = stream[i], bars[i]
            i += 1
            if kind == BUY:
                skip = rest[r * width + sr]
                if j < skip.end and skip.counted[j]:
                    continue  # counted in bulk when its ticker was used (``_skip_rest``)
            elif j < sells[r * width + sr].end:
                continue  # counted in bulk: the strategy held nothing to sell (``_skip_sells``)
            if self.fired != (r, sr, k):  # a bar whose exit fired emits nothing else
                self._sell_candidate(g, r, sr, k, j) if kind == SELL else self._buy(g, r, sr, k, j)
        if self.watch.optimistic:
            self.watch.judge_run(round_to_cents(self.settings.paper_starting_cash), self.changes)
        else:
            self.watch.halted(self.tl.total - 1, self.account.cash, self.account.positions)

    def _schedule_exit(self, r: int, sr: int, k: int) -> None:
        """Look up the strategy's next exit bar after bar ``k`` (once it holds the symbol)."""
        t = self.tl.per[self.tl.symbols[sr]]
        exits = self.exit_bars[(r, sr)]
        i = bisect.bisect_right(exits, k)
        if i >= len(exits):
            self.pending.pop((r, sr), None)
            return
        nxt = exits[i]
        g = int(t.gpos[nxt])
        if self.pending.get((r, sr), g + 1) <= g:
            return  # an earlier check is already due
        self.pending[(r, sr)] = g
        heapq.heappush(self.heap, (g * len(self.names) + r, g, r, sr, nxt))

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

    def _sell_candidate(self, g: int, r: int, sr: int, k: int, j: int) -> None:
        name, symbol = self.names[r], self.tl.symbols[sr]
        c = self.cands[(r, sr)]
        key = (r, sr, int(self.tl.per[symbol].sess[k]))
        if c.sells_respect_exit_sent and key in self.exit_sent:
            if not self._owned(symbol, name):
                self._skip_sells(r, sr, k, j, key)
            return  # mid: this session's exit is on its way, no second sell
        if not self._owned(symbol, name):
            self.flat_sells += 1  # long only: nothing of this strategy's to close
            self._skip_sells(r, sr, k, j, key)
            return
        self.exit_sent.add(key)
        reason, extra = c.why(k, "sell")
        self._sell(g, r, sr, k, self._signal(r, sr, k, "sell", reason, extra))
        if self._owned(symbol, name):
            self._schedule_exit(r, sr, k)

    def _buy(self, g: int, r: int, sr: int, k: int, j: int) -> None:
        name, symbol = self.names[r], self.tl.symbols[sr]
        held = self.account.positions.get(symbol)
        if held is not None and held[1] != name:
            return  # the engine refuses it before the gate: held by another strategy
        rest = self.rest[r * len(self.tl.symbols) + sr]
        day = self.tl.sessions[rest.sess[j]].day if rest.valid[j] else None
        allowed: tuple[str, ...] = ()  # the array filters that allow this entry (the gate need not run them)
        if day is not None:
            first = self.first[(r, sr)][j]
            allowed = self.prejudged[r] if first == NONE else ()
            blocker = self._quick_block(r, name, symbol, day, first)
            if blocker is not None:
                self.signals[name] += 1
                per = self.blocks[name]
                per[blocker] = per.get(blocker, 0) + 1
                if blocker == self.gate.blocklist.name:
                    self._skip_rest(r, sr, j, name, symbol, day)
                return
        reason, extra = self.cands[(r, sr)].why(k, "buy")
        snapshot = self.snapshots[name] and (not allowed or self.read_after[r])
        signal = self._signal(r, sr, k, "buy", reason, extra, snapshot=snapshot)
        qty = self._through_gate_kill_and_risk(g, name, signal, allowed)
        if qty is None:
            return
        t = self.tl.per[symbol]
        self.orders[name] += 1
        if not self._order(g, symbol, "buy", qty, int(t.cents[k]), name, signal.ts):
            return  # the paper broker rejected it (cash): the ticker stays free
        self.gate.order_sent(signal)
        if day is not None:
            self._skip_rest(r, sr, j, name, symbol, day)
        self._schedule_exit(r, sr, k)

    def _skip_rest(self, r: int, sr: int, j: int, name: str, symbol: str, day: date) -> None:
        """The ticker is used for the session: count the strategy's later entries of the session as blocked.

        Each would meet the held check, then the blocklist: no strategy can buy the symbol again this
        session (the blocklist refuses it), so it stays unheld or held by this strategy, and the used ticker
        blocks every one of them (``Gate.used_ticker_blocks`` counts them as ``decide`` does).  Entries on a
        bar where the strategy's exit could fire, or with a price ``signal_problem`` refuses, stay events.
        """
        rest = self.rest[r * len(self.tl.symbols) + sr]
        start, end = max(j + 1, rest.end), rest.ends[j]
        if start >= end:
            return
        n = rest.before[end] - rest.before[start]
        if n and not self.gate.used_ticker_blocks(name, symbol, day, n):
            return
        rest.end = end
        if n:
            self.signals[name] += n
            per = self.blocks[name]
            blocker = self.gate.blocklist.name
            per[blocker] = per.get(blocker, 0) + n

    def _skip_sells(self, r: int, sr: int, k: int, j: int, key: tuple[int, int, int]) -> None:
        """The strategy holds none of the symbol at its sell ``j``: settle its sells until it may hold some.

        Only its own buy can make it hold the symbol again, so every sell before its next buy candidate that
        is not already counted meets what sell ``j`` met: nothing of the strategy's to close (a flat sell),
        or, for ``mid`` in a session whose exit was sent, no signal; no exit can fire in between.
        """
        width = len(self.tl.symbols)
        buys, sells = self.rest[r * width + sr], self.sells[r * width + sr]
        start = max(j + 1, sells.end)
        nxt = bisect.bisect_right(buys.bars, k)
        if nxt < buys.end:
            nxt = min(buys.open_from[nxt], buys.end)
        stop = bisect.bisect_left(sells.bars, buys.bars[nxt]) if nxt < len(buys.bars) else len(sells.bars)
        if stop <= start:
            return
        silent = 0
        if self.cands[(r, sr)].sells_respect_exit_sent and key in self.exit_sent:
            silent = max(0, min(stop, sells.ends[j]) - start)  # the rest of this session's sells
        self.flat_sells += stop - start - silent
        sells.end = stop

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

    def _sell(self, g: int, r: int, sr: int, k: int, signal: Signal) -> None:
        name, symbol = self.names[r], self.tl.symbols[sr]
        qty = self._through_gate_kill_and_risk(g, name, signal)
        if qty is None:
            return
        self.orders[name] += 1
        if self._order(g, symbol, "sell", qty, int(self.tl.per[symbol].cents[k]), name, signal.ts):
            self.gate.order_sent(signal)

    def _order(self, g: int, symbol: str, side: str, qty: int, mark: int, name: str, ts: datetime) -> bool:
        """A market order to the paper account; a fill is noted for the kill switch's ``judge_run``."""
        if self.account.market_order(symbol, side, qty, mark, name, ts) is None:
            return False
        held = self.account.positions.get(symbol)
        self.changes.append((g, self.account.cash, symbol, held[0] if held is not None else 0))
        return True

    def _through_gate_kill_and_risk(
        self, g: int, name: str, signal: Signal, allowed: tuple[str, ...] = ()
    ) -> int | None:
        """The engine's checks after the strategy: gate, kill switch, risk bot. The shares to order, or None.

        ``allowed``: the leading filters the arrays found allowing this entry (``Gate.decide_prejudged``).
        """
        market = self.market.context(signal)
        decision = self.gate.decide_prejudged(signal, market, allowed) if allowed else self.gate.decide(signal, market)
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
            equity=Decimal(equity).scaleb(-2),
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
        per = self.tl.per
        for symbol, (qty, owner) in self.account.positions.items():
            t = per[symbol]
            value = qty * int(t.cents[int(t.gpos.searchsorted(g, side="right")) - 1])
            equity += value
            holdings[symbol] = Holding(qty, Decimal(value).scaleb(-2), owner)  # ``from_cents``, the same Decimal
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
