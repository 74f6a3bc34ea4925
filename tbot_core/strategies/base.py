"""The strategy base: one bar-by-bar implementation serves live trading and ``simulate()``.

``simulate`` turns a one-symbol OHLCV frame into ``Bar`` objects and feeds a
fresh copy of the strategy through the very same ``on_bar``; there is no
vectorised second copy of any rule to drift out of step.  Indicators live in a
``MarketState``: strategies built together share one (each bar folded once),
a strategy built alone owns one; ``on_bar`` is the same code either way.

Long only.  A ``buy`` opens a position; a ``sell`` closes one, and only one
the strategy itself holds (the engine drops any other sell).  Exits need to
know what is held: inside the engine the strategy is *told* after every
account read (``holdings_told``: the broker's positions with the strategy
that opened them, so a restarted core still exits what an earlier run
bought); built alone (``simulate()``, tests) it books its own signals
instead, as the backtest's fill model fills them.  Each exit rule fires at
most once per session per symbol: a second sell before the first has filled
(a real broker fills later) could sell short.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from typing import Any, ClassVar, Protocol

import numpy as np
import pandas as pd

from tbot_core.bars import Bar
from tbot_core.config import Settings
from tbot_core.errors import ConfigError
from tbot_core.market_calendar import SessionTime
from tbot_core.signals import Side, Signal
from tbot_core.strategies.market_state import MarketState, SymbolIndicators

FRAME_COLUMNS = ("ts", "open", "high", "low", "close", "volume")


@dataclass
class SymbolState:
    """What a strategy remembers about one symbol (``memo`` reset per session where it says so).

    ``indicators`` is the symbol's entry of the (possibly shared) ``MarketState``: read it, never update it.
    """

    indicators: SymbolIndicators
    session_day: date | None = None
    memo: dict[str, Any] = field(default_factory=dict)


class BarStrategy(Protocol):
    """What the engine asks of a strategy: the signals of one bar (``Strategy``, or a test's scripted one)."""

    @property
    def name(self) -> str: ...

    def on_bar(self, bar: Bar, vix: float | None) -> list[Signal]: ...


class Strategy(abc.ABC):
    name: ClassVar[str]
    # Gate modules that apply to this strategy's signals (config decides whether each is on).
    enhancements: ClassVar[tuple[str, ...]] = ()
    # Intraday strategies only act inside an NYSE session; a reference strategy may not.
    uses_session: ClassVar[bool] = True

    def __init__(self, settings: Settings | None = None, market: MarketState | None = None) -> None:
        self.settings = settings or Settings()
        self.market = market if market is not None else MarketState(self.settings)
        self._states: dict[str, SymbolState] = {}
        # What this strategy holds: told by the engine (None until it is), else booked from its own signals.
        self._told: frozenset[str] | None = None
        self._booked: set[str] = set()

    def holdings_told(self, symbols: Iterable[str]) -> None:
        """The engine, after reading the account: the symbols held in positions this strategy opened."""
        self._told = frozenset(symbols)

    def holds(self, symbol: str) -> bool:
        return symbol in (self._told if self._told is not None else self._booked)

    def fresh(self) -> Strategy:
        """A new instance with the same parameters, its own market state and no memory."""
        return type(self)(self.settings)

    # -- live form ---------------------------------------------------------------------
    def on_bar(self, bar: Bar, vix: float | None = None) -> list[Signal]:
        view = self.market.advance(bar)
        state = self._states.get(bar.symbol)
        if state is None:
            state = self._states[bar.symbol] = SymbolState(view.indicators)
        when = view.when if self.uses_session else None
        if when is not None and when.session.day != state.session_day:
            state.session_day = when.session.day
            state.memo.clear()
        if not view.sound:
            return []
        if self.uses_session and (when is None or not when.open_now):
            return []
        signals = self.decide(bar, vix, state, when)
        for sig in signals:
            if sig.side == "sell" and self.holds(sig.symbol):
                state.memo["exit_sent"] = True  # any sell of a held symbol is this session's exit for it
            if self._told is None:  # alone: what it signals is what it holds
                if sig.side == "buy":
                    self._booked.add(sig.symbol)
                else:
                    self._booked.discard(sig.symbol)
        return signals

    @abc.abstractmethod
    def decide(self, bar: Bar, vix: float | None, state: SymbolState, when: SessionTime | None) -> list[Signal]:
        """Signals for this (sound, in-session) bar; the indicators already include it.

        ``when`` is the bar's place in its session (None for a strategy that does not use sessions).
        """

    def flat_before_close(
        self, bar: Bar, state: SymbolState, when: SessionTime, minutes: int, vix: float | None
    ) -> list[Signal]:
        """The intraday exit rule: what this strategy holds is sold ``minutes`` before the session's real close."""
        if when.to_close > minutes:  # most bars: not due, and no reason text to format
            return []
        close = when.session.close
        return self.exit_due(bar, state, True, lambda: f"flat {minutes} min before the {close:%H:%M} UTC close", vix)

    def exit_due(
        self, bar: Bar, state: SymbolState, due: bool, reason: Callable[[], str], vix: float | None
    ) -> list[Signal]:
        """The sell of an exit rule that is ``due``: once per session per symbol, and only if held.

        ``reason`` is called only when the sell is made: an exit rule is asked on every bar, and
        formatting its reason (a time, a ratio) would cost more than the rule itself.
        """
        if not due or state.memo.get("exit_sent") or not self.holds(bar.symbol):
            return []
        state.memo["exit_sent"] = True
        return [self.signal(bar, "sell", reason(), state, vix, exit=True)]

    def signal(self, bar: Bar, side: Side, reason: str, state: SymbolState, vix: float | None, **extra: Any) -> Signal:
        context = {"indicators": state.indicators.snapshot(), "vix": vix, **extra}
        return Signal(
            ts=bar.ts,
            strategy=self.name,
            symbol=bar.symbol,
            side=side,
            price=Decimal(repr(float(bar.close))),
            reason=reason,
            context=context,
        )

    # -- backtest form -------------------------------------------------------------------
    def simulate(self, frame: pd.DataFrame, symbol: str | None = None) -> list[Signal]:
        """Signals for one symbol's history (columns ts, open, high, low, close, volume [, vix])."""
        symbol, stamps, cols, vix = self.frame_inputs(frame, symbol)
        runner = self.fresh()
        signals: list[Signal] = []
        lists = [col.tolist() for col in cols]
        for i, ts in enumerate(stamps.dt.to_pydatetime()):
            bar = Bar(ts, symbol, lists[0][i], lists[1][i], lists[2][i], lists[3][i], lists[4][i])
            level = None if vix is None or math.isnan(vix[i]) else float(vix[i])
            signals.extend(runner.on_bar(bar, level))
        return signals

    def frame_inputs(self, frame: pd.DataFrame, symbol: str | None) -> tuple[str, pd.Series, list, np.ndarray | None]:
        """Validated (symbol, UTC times, [open, high, low, close, volume] arrays, vix or None) of a frame."""
        missing = [c for c in FRAME_COLUMNS if c not in frame.columns]
        if missing:
            raise ConfigError(
                f"simulate({self.name}): frame column {missing[0]!r} missing; expected {', '.join(FRAME_COLUMNS)}"
            )
        symbol = symbol or _frame_symbol(frame)
        try:
            stamps = pd.to_datetime(frame["ts"], utc=True)
        except (ValueError, TypeError):
            raise ConfigError(f"simulate({self.name}): column 'ts': expected UTC timestamps") from None
        if not stamps.is_monotonic_increasing:
            raise ConfigError(f"simulate({self.name}): column 'ts': expected times in increasing order")
        vix = frame["vix"].to_numpy(dtype=float) if "vix" in frame.columns else None
        return symbol, stamps, [frame[c].to_numpy(dtype=float) for c in FRAME_COLUMNS[1:]], vix


def _frame_symbol(frame: pd.DataFrame) -> str:
    if "symbol" in frame.columns and len(frame):
        values = frame["symbol"].unique()
        if len(values) != 1:
            raise ConfigError("simulate: frame holds several symbols; expected one symbol per frame")
        return str(values[0])
    return str(frame.attrs.get("symbol", "SIM"))
