"""The gate's answers without a signal, for the fast backtest: blocks it can prove before ``decide`` runs.

The fast backtest (``backtest/fast/loop.py``) meets tens of thousands of
entries that the gate surely blocks: the ticker was already used that
session, or an indicator filter it judged over arrays refuses the entry.
Building a signal and a verdict per entry cost more than the rest of the
run, so ``Gate`` answers those here and counts each block exactly as
``decide`` counts it (module counts, tuning tracker; the verdict objects and,
for array blocks, the modules' last reasons are not made).  Only an offline
gate answers (no audit, no verdict log): a live gate's every decision must
reach its log, so there the answer is always False ("call ``decide``").
"""

from __future__ import annotations

from datetime import date
from typing import TYPE_CHECKING

from tbot_core.enhancements.base import Enhancement, Verdict
from tbot_core.enhancements.ticker_blocklist import TickerBlocklist, used_reason
from tbot_core.enhancements.tuning_tracker import TuningTracker
from tbot_core.signals import MarketContext, Signal

if TYPE_CHECKING:
    from tbot_core.audit import AuditLog
    from tbot_core.enhancements.verdict_log import VerdictLog
    from tbot_core.gate import GateDecision


class ModuleStats:
    """One module's counts for ``Gate.enhancement_status``."""

    __slots__ = ("allowed", "blocked", "last_reason", "errored")

    def __init__(self) -> None:
        self.allowed = self.blocked = 0
        self.last_reason = ""
        self.errored = False


class OfflineShortcuts:
    """``Gate``'s shortcuts for the fast backtest; ``Gate`` provides the attributes below."""

    log: VerdictLog | None
    audit: AuditLog | None
    blocklist: TickerBlocklist
    tracker: TuningTracker
    _stats: dict[str, ModuleStats]

    # Gate's own, used here:
    def _chain(self, strategy: str) -> tuple[Enhancement, ...] | None:
        raise NotImplementedError

    def decide(self, signal: Signal, market: MarketContext) -> GateDecision:
        raise NotImplementedError

    def _run(self, module: Enhancement, signal: Signal, market: MarketContext) -> Verdict:
        raise NotImplementedError

    def _finish(self, signal: Signal, verdicts: tuple[Verdict, ...], blocker: Verdict | None) -> GateDecision:
        raise NotImplementedError

    def _gate_failed(self, signal: object, exc: Exception) -> GateDecision:
        raise NotImplementedError

    def decide_prejudged(self, signal: Signal, market: MarketContext, allowed: tuple[str, ...]) -> GateDecision:
        """``decide`` for an entry whose filters ``allowed`` (leading the chain after the blocklist) were
        judged over arrays and all allow it: the blocklist and the rest of the chain run for real, those
        are counted as allowing (no verdicts; their last reasons stay).  The decision's allow and its
        blocking module are ``decide``'s; only an offline gate takes the shortcut, never for an exit.
        """
        from tbot_core.gate import EXIT_SIDE, signal_problem  # the gate module imports this one

        try:
            chain = self._chain(signal.strategy) if isinstance(signal, Signal) else None
            if (
                not allowed
                or chain is None
                or self.log is not None
                or self.audit is not None
                or signal_problem(signal) is not None
                or signal.side == EXIT_SIDE
                or tuple(m.name for m in chain[1 : len(allowed) + 1]) != allowed
            ):
                return self.decide(signal, market)
            verdict = self._run(chain[0], signal, market)
            verdicts = [verdict]
            if verdict.allow:
                for name in allowed:
                    self._stats[name].allowed += 1
                    self._stats[name].errored = False
                for module in chain[len(allowed) + 1 :]:
                    verdict = self._run(module, signal, market)
                    verdicts.append(verdict)
                    if not verdict.allow:
                        break
            return self._finish(signal, tuple(verdicts), None if verdict.allow else verdict)
        except Exception as exc:
            return self._gate_failed(signal, exc)

    def used_ticker_block(self, strategy: str, symbol: str, day: date) -> bool:
        """True when ``decide`` would block a valid ``strategy`` entry of ``symbol`` on ``day`` at the blocklist.

        Counted as ``decide`` counts the block.  False means "call ``decide``".  The caller vouches that the
        entry's time falls on ``day`` and its price is a positive finite number.
        """
        return self.used_ticker_blocks(strategy, symbol, day, 1)

    def used_ticker_blocks(self, strategy: str, symbol: str, day: date, times: int) -> bool:
        """``used_ticker_block`` for ``times`` such entries at once, all of them or none (False: none counted).

        The fast backtest asks this once a ticker is used for the session, for the strategy's remaining
        entries of that session: the blocklist's set for a day only grows, so what blocks one blocks them all.
        """
        if times < 1 or self.log is not None or self.audit is not None or self._chain(strategy) is None:
            return False
        first = self.blocklist.used_on(day, symbol)
        if first is None:
            return False
        self._count_block(strategy, (), self.blocklist.name, times)
        self._stats[self.blocklist.name].last_reason = used_reason(symbol, first)
        return True

    def array_block(self, strategy: str, symbol: str, day: date, passed: tuple[str, ...], blocker: str) -> bool:
        """True when ``decide`` would block a valid ``strategy`` entry of ``symbol`` on ``day`` at ``blocker``.

        For the fast backtest, which judged the filters ``passed`` (allowing) and ``blocker`` over arrays
        (``backtest/fast/entry_filters.py``); the gate checks they lead its chain after the blocklist and
        that the blocklist allows, and counts the decision as ``decide`` does.  False: call ``decide``.
        """
        if self.log is not None or self.audit is not None:
            return False
        chain = self._chain(strategy)
        names = (*passed, blocker)
        if chain is None or tuple(m.name for m in chain[1 : len(names) + 1]) != names:
            return False
        if not self.blocklist.free_on(day, symbol):
            return False
        self._count_block(strategy, (self.blocklist.name, *passed), blocker)
        return True

    def _count_block(self, strategy: str, passed: tuple[str, ...], blocker: str, times: int = 1) -> None:
        """What ``decide`` counts for ``times`` entries the modules ``passed`` allowed and ``blocker`` blocked."""
        for name in passed:
            self._stats[name].allowed += times
            self._stats[name].errored = False
        self._stats[blocker].blocked += times
        self._stats[blocker].errored = False
        if self.tracker.enabled:
            try:
                self.tracker.observe_blocked(strategy, blocker, times)
            except Exception:  # decide would audit it (an offline gate has no audit) and block all the same
                self._stats[self.tracker.name].errored = True
