"""``run_events``: the fast engine over a set of bars, answering what the bar engine's ``run_live`` answers.

Pure: it reads its arguments and returns; nothing is written anywhere (the
gate runs offline: no audit, no strategy log, no session file), so it can run
in a Dask worker.  The settings are made exactly as the bar engine gets them
(``scratch.live_settings``); the few configurations whose decisions the array
forms cannot reproduce are refused with one line naming the settings.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.fast.loop import EventLoop
from tbot_core.backtest.fast.timeline import ReplayVix, Timeline, build_timeline
from tbot_core.backtest.fills import simulation_from_fills
from tbot_core.backtest.run_info import EngineRun, paper_fill_model
from tbot_core.backtest.scratch import live_settings
from tbot_core.config import Settings
from tbot_core.data.market import MarketData, vix_source_name
from tbot_core.errors import ConfigError
from tbot_core.gate import Gate
from tbot_core.gc_pause import gc_paused
from tbot_core.identity import Identity
from tbot_core.money import from_cents, round_to_cents
from tbot_core.paths import HomePaths, offline_home
from tbot_core.strategies.registry import _TOGGLES

PROGRESS_BARS = 200_000  # a progress line for runs this long
FAST_IDENTITY = Identity("TBOT_BACKTEST", "US", "PAPER")


def enabled_strategies(settings: Settings) -> list[str]:
    """The strategies ``build_strategies`` makes from these settings, in its order."""
    return [name for name, key in _TOGGLES.items() if getattr(settings, key)]


def check_supported(settings: Settings, timeline: Timeline) -> None:
    """Refuse settings under which a strategy's exit and entry rules could act on the same bar."""
    s = settings
    if vix_source_name(s.vix_source, s.broker) != "feed":
        raise ConfigError(
            f"VIX_SOURCE={s.vix_source}: the fast engine replays VIX from the backtest data only; "
            "use --engine bar or VIX_SOURCE=auto"
        )
    window = s.strat_close_window_minutes
    for key in ("strat_open_flat_minutes_before_close", "strat_mid_flat_minutes_before_close"):
        if getattr(s, key) > window:
            raise ConfigError(
                f"{key.upper()}={getattr(s, key)} > STRAT_CLOSE_WINDOW_MINUTES={window}: "
                "the fast engine needs the flat exit inside the close window; use --engine bar"
            )
    need = s.strat_open_range_minutes + s.strat_open_flat_minutes_before_close
    for session in timeline.sessions:
        if (session.close - session.open).total_seconds() / 60.0 < need:
            raise ConfigError(
                f"STRAT_OPEN_RANGE_MINUTES + STRAT_OPEN_FLAT_MINUTES_BEFORE_CLOSE = {need} min do not fit the "
                f"{session.day} session; use --engine bar"
            )


def _replay(
    timeline: Timeline, names: list[str], s: Settings, identity: Identity, fundamentals: Any, *, optimistic: bool
) -> EventLoop:
    """One pass of the event loop with a fresh gate, market data and account (``optimistic``: ``DailyLossWatch``)."""
    gate = Gate(
        s,
        identity,
        HomePaths(offline_home(tempfile.gettempdir())),
        audit=None,
        broker_code="PAPER",
        fundamentals=fundamentals,
        persist=False,
    )
    vix = ReplayVix()
    market = MarketData(vix=vix, vix_name="feed", fundamentals=fundamentals if s.fundamental_guard_enabled else None)
    now: list[datetime | None] = [None]  # the bar being replayed: what the point-in-time file answers as of
    if fundamentals is not None:
        # ISO text of the bar's UTC day: all the point-in-time lookup reads of it (``today[:10]``).
        fundamentals.today = lambda: None if now[0] is None else now[0].date().isoformat()
    loop = EventLoop(timeline, names, s, gate, market, vix, lambda ts: now.__setitem__(0, ts), optimistic=optimistic)
    loop.run()
    return loop


def run_events(
    bars: dict[str, SymbolBars],
    strategy: str,
    settings: Settings,
    *,
    identity: Identity | None = None,
    fundamentals: Any = None,
    progress: Callable[[str], None] | None = None,
) -> EngineRun:
    """The fast engine over ``bars`` for ``strategy`` (open|mid|close|all) with ``settings`` (filters toggled)."""
    with gc_paused:  # few cycles, many short-lived containers: see tbot_core/gc_pause.py
        return _run(bars, strategy, settings, identity, fundamentals, progress)


def _run(
    bars: dict[str, SymbolBars],
    strategy: str,
    settings: Settings,
    identity: Identity | None,
    fundamentals: Any,
    progress: Callable[[str], None] | None,
) -> EngineRun:
    started = time.perf_counter()
    s = live_settings(settings, strategy)
    if fundamentals is None and s.fundamental_guard_enabled:  # a backtest never asks Finnhub (docs/backtest.md)
        s = s.with_values({"FUNDAMENTAL_GUARD_ENABLED": "false"})
    names = enabled_strategies(s)
    timeline = build_timeline(bars)
    check_supported(s, timeline)
    previous = getattr(fundamentals, "today", None)
    try:
        if progress is not None and timeline.total >= PROGRESS_BARS:
            progress(f"fast engine: {timeline.total:,} bars, strategies {', '.join(names) or 'none'}")
        loop = _replay(timeline, names, s, identity or FAST_IDENTITY, fundamentals, optimistic=True)
        if not loop.watch.trusted:  # the kill switch halted trading before a check: the careful way
            loop = _replay(timeline, names, s, identity or FAST_IDENTITY, fundamentals, optimistic=False)
    finally:
        if fundamentals is not None:
            fundamentals.today = previous
    account = loop.account
    last_marks = {sym: int(t.cents[-1]) for sym, t in timeline.per.items()}
    equity = account.cash + sum(qty * last_marks[sym] for sym, (qty, _) in account.positions.items())
    starting = from_cents(round_to_cents(s.paper_starting_cash))
    simulation = simulation_from_fills(
        account.fills,
        bars,
        starting_cash=starting,
        final_cash=from_cents(account.cash),
        final_equity=from_cents(equity),
        marks={sym: from_cents(last_marks[sym]) for sym in account.positions},
        times=timeline.times,
    )
    watch = loop.watch
    return EngineRun(
        simulation=simulation,
        fills=account.fills,
        starting_cash=starting,
        strategies=names,
        filters=loop.chains,
        signals=loop.signals,
        blocks={name: dict(sorted(per.items())) for name, per in loop.blocks.items()},
        orders=loop.orders,
        flat_sells=loop.flat_sells,
        kill_switch={
            "triggered": watch.triggered_at is not None,
            "since_utc": watch.since(),
            "cause": watch.cause or None,
        },
        fill_model=paper_fill_model(s),
        bars=timeline.total,
        seconds=time.perf_counter() - started,
    )
