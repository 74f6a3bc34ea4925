"""The throw-away bot home a live-engine backtest runs in, and the settings it runs with.

The engine keeps state (``core.db``, ``audit.db``, ``run/session.json``, logs,
the ledger) because live it must survive a restart.  A backtest must not put
any of that in the operator's home, so the engine gets a home of its own in a
temporary folder, made by the same ``init_home`` as ``tbot init`` and deleted
afterwards.  Its market data is the chosen bars over ``--start..--end``,
written in the replay feed's format; its settings are the operator's with only
what a replay needs changed (``BROKER=paper``, ``REPLAY_SPEED=0``, no alerts).
"""

from __future__ import annotations

import csv
from pathlib import Path

import numpy as np

from tbot_core.backtest.data import SymbolBars
from tbot_core.config import Settings
from tbot_core.data.replay import OHLCV_FIELDS, VIX_FIELDS
from tbot_core.errors import ConfigError
from tbot_core.paths import HomePaths

# The session strategies ``build_strategies`` makes, each switched by STRAT_{NAME}_ENABLED.
LIVE_STRATEGIES = ("open", "mid", "close")
# What a replay in a scratch home needs, whatever the operator's config says: the paper fill model on
# the replayed bars at full speed, no alert leaving the machine, logs the backtest can read back.
REPLAY_OVERRIDES = {"BROKER": "paper", "REPLAY_SPEED": "0", "NOTIFY_ON_CRITICAL": "false", "LOG_FORMAT": "JSON"}


def live_settings(settings: Settings, strategy: str) -> Settings:
    """The scratch core's settings: ``settings`` (filters already toggled, see ``filter_settings``) for a replay.

    ``--strategy=all`` keeps the operator's STRAT_*_ENABLED (as ``tbot core`` would);
    ``--strategy=X`` switches X on and the other two off.
    """
    overrides = dict(REPLAY_OVERRIDES)
    if strategy != "all":
        if strategy not in LIVE_STRATEGIES:
            raise ConfigError(
                f"--strategy: {strategy!r} is not a strategy the core runs "
                f"(expected all|{'|'.join(LIVE_STRATEGIES)}); use --engine fast for it"
            )
        overrides.update({f"STRAT_{name.upper()}_ENABLED": str(name == strategy).lower() for name in LIVE_STRATEGIES})
    return settings.with_values(overrides)


def _utc_text(ts: np.ndarray) -> np.ndarray:
    whole = bool((ts.astype(np.int64) % 1_000_000_000 == 0).all())
    return np.char.add(np.datetime_as_string(ts, unit="s" if whole else "us"), "Z")


def write_market_data(paths: HomePaths, bars: dict[str, SymbolBars]) -> int:
    """The bars (all symbols, time order, symbols sorted within a time) and their VIX, as the replay feed reads them.

    Prices are written with ``repr`` so the feed parses back the very floats the
    backtest validated.  Returns the number of bars written.
    """
    symbols = sorted(bars)
    ts = np.concatenate([bars[s].ts for s in symbols])
    rank = np.concatenate([np.full(len(bars[s]), k) for k, s in enumerate(symbols)])
    order = np.lexsort((rank, ts))
    columns = [np.concatenate([getattr(bars[s], name) for s in symbols])[order] for name in ("open", "high", "low")]
    close = np.concatenate([bars[s].close for s in symbols])[order]
    volume = np.concatenate([bars[s].volume for s in symbols])[order]
    texts = _utc_text(ts[order])
    names = np.array(symbols)[rank[order]]
    with open(paths.sample_ohlcv, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(OHLCV_FIELDS)
        out.writerows(
            zip(
                texts.tolist(),
                names.tolist(),
                *(map(repr, c.tolist()) for c in (*columns, close)),
                map(repr, volume.tolist()),
            )
        )
    _write_vix(paths.sample_vix, bars)
    return len(order)


def vix_table(bars: dict[str, SymbolBars]) -> tuple[np.ndarray, np.ndarray]:
    """The replay's VIX series: one level per bar time that has one (any symbol's copy: they are the same series).

    Both engines read VIX from here: the bar engine through the file ``write_market_data`` writes,
    the fast engine directly (``fast.timeline``).
    """
    with_vix = [(b.ts, b.vix) for b in bars.values() if b.vix is not None]
    if not with_vix:
        return np.array([], dtype="datetime64[ns]"), np.array([], dtype=np.float64)
    one_ts, one_vix = with_vix[0]
    if all(np.array_equal(ts, one_ts) and np.array_equal(vix, one_vix, equal_nan=True) for ts, vix in with_vix[1:]):
        with_vix = [(one_ts, one_vix)]  # every symbol carries the same series at the same times (attach_vix): one copy
    ts = np.concatenate([ts for ts, _ in with_vix])
    level = np.concatenate([vix for _, vix in with_vix])
    keep = np.isfinite(level)
    ts, level = ts[keep], level[keep]
    unique, first = np.unique(ts, return_index=True)
    return unique, level[first]


def _write_vix(path: Path, bars: dict[str, SymbolBars]) -> None:
    """The VIX series as the replay feed reads it; just a header if there is none."""
    ts, level = vix_table(bars)
    with open(path, "w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle, lineterminator="\n")
        out.writerow(VIX_FIELDS)
        if len(ts):
            out.writerows(zip(_utc_text(ts).tolist(), map(repr, level.tolist())))
