"""The market context the gate's filters read, assembled on the data side for every broker.

The engine asks one object, ``MarketData``, for the VIX in force at each new
bar time (``at``) and for the frozen ``MarketContext`` of each signal
(``context``); it never reads a feed's VIX or calls Finnhub itself.
``build_market_data`` (called by ``runtime.wiring.build_parts``) picks the
sources from the config:

* VIX (``VIX_SOURCE``): ``auto`` uses the feed where it has VIX (the paper
  replay's VIX file, IBKR's CBOE index); Alpaca's stock API has none, so
  there it takes ``file`` (``data/market/vix.csv``) or ``finnhub``.  No source
  means VIX is unknown, and ``vix_gatekeeper``'s self-check refuses the start
  while the close strategy is on.
* fundamentals: the fundamental guard's source (Finnhub live, the
  point-in-time file in a backtest), asked for entries only and only while the
  guard is on.
* auction imbalance: ``ImbalanceSource``; with BROKER=ibkr, the close strategy on and
  ``imbalance_scanner_ibkr`` on, ``tbot_core.data.ibkr.IbkrImbalanceSource`` over the
  IBKR feed (generic tick 225 inside the close-auction window); otherwise ``NoImbalance``.
* the option quote: the one the strategy put in the signal, if it is an option order.

A source that fails (file unreadable, Finnhub down) never raises into the
engine: the failure goes into ``MarketContext.failed`` and the module that
needs it reports "data source failed", so its ``*_FATAL`` setting decides.
"""

from __future__ import annotations

import bisect
import csv
import os
from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from tbot_core.bars import Bar
from tbot_core.data.base import Feed
from tbot_core.errors import ConfigError, TbotError
from tbot_core.sanitize import scrub
from tbot_core.signals import Imbalance, IndicatorSnapshot, MarketContext, OptionQuote, Signal
from tbot_core.timeutil import iso_z

if TYPE_CHECKING:
    from tbot_core.config import Settings
    from tbot_core.paths import HomePaths

# Brokers whose own feed carries VIX (VIX_SOURCE=auto/feed uses it).
FEEDS_WITH_VIX = ("paper", "ibkr")
VIX_HINT = (
    "set VIX_SOURCE=file (keep data/market/vix.csv current: timestamp_utc,vix) or VIX_SOURCE=finnhub "
    "(needs the screener_api secret) with `tbot config set`, or switch STRAT_CLOSE_ENABLED=false"
)


class VixSource(Protocol):
    def vix(self, ts: datetime) -> float | None:
        """The VIX level in force at ``ts`` (None if unknown); raises ``TbotError`` when the source failed."""


class FundamentalsSource(Protocol):
    def lookup(self, symbol: str) -> Any:
        """The symbol's fundamentals (``pe``, ``debt_equity``, ``market_cap_usd``, ``as_of``); raises on failure."""


class ImbalanceSource(Protocol):
    def imbalance(self, symbol: str, ts: datetime) -> Imbalance | None:
        """The latest auction imbalance report for ``symbol`` at ``ts`` (None: no report)."""


class NoImbalance:
    """No auction imbalance source (every broker but IBKR, or the scanner off): always None.

    Were ``imbalance_scanner_ibkr`` active, it would report "no imbalance data" inside its
    window and ``IMBALANCE_SCANNER_FATAL`` would decide.
    """

    def imbalance(self, symbol: str, ts: datetime) -> Imbalance | None:
        return None


def vix_source_name(choice: str, broker: str) -> str | None:
    """The VIX source ``VIX_SOURCE=choice`` gives ``broker``: "feed", "file", "finnhub", or None for none."""
    if choice in ("auto", "feed"):
        return "feed" if broker.lower() in FEEDS_WITH_VIX else None
    return choice


class VixFile:
    """``data/market/vix.csv`` (``timestamp_utc,vix``), re-read whenever the file changes (live: kept current).

    A level older than ``VIX_MAX_AGE_MINUTES`` at the bar's time is a failure, not a level.
    """

    def __init__(self, path: Path, max_age_minutes: int) -> None:
        self.path = path
        self.max_age = timedelta(minutes=max_age_minutes)
        self._stamp: tuple[int, int] | None = None
        self._times: list[datetime] = []
        self._levels: list[float] = []

    def _name(self) -> str:
        return f"data/market/{self.path.name}"

    def _load(self) -> None:
        try:
            info = os.stat(self.path)
        except OSError as exc:
            raise TbotError(f"{self._name()}: cannot read ({type(exc).__name__})") from None
        stamp = (info.st_mtime_ns, info.st_size)
        if stamp == self._stamp:
            return
        rows: list[tuple[datetime, float]] = []
        try:
            with open(self.path, newline="", encoding="utf-8") as handle:
                reader = csv.reader(handle)
                header = next(reader, None)
                if header is None or tuple(h.strip() for h in header) != ("timestamp_utc", "vix"):
                    raise ConfigError(f"{self._name()}:1: expected header timestamp_utc,vix")
                for line, row in enumerate(reader, start=2):
                    rows.append(self._row(row, line))
        except (OSError, UnicodeDecodeError) as exc:
            raise TbotError(f"{self._name()}: cannot read ({type(exc).__name__})") from None
        rows.sort()
        self._times, self._levels = [r[0] for r in rows], [r[1] for r in rows]
        self._stamp = stamp

    def _row(self, row: list[str], line: int) -> tuple[datetime, float]:
        try:
            moment, level = datetime.fromisoformat(row[0].strip()), float(row[1])
        except (ValueError, IndexError):
            raise ConfigError(
                f"{self._name()}:{line}: expected timestamp_utc,vix like 2026-01-05T14:30:00Z,17.4"
            ) from None
        if moment.tzinfo is None or not level > 0:
            raise ConfigError(f"{self._name()}:{line}: expected a UTC time ending in Z and a positive VIX level")
        return moment, level

    def vix(self, ts: datetime) -> float | None:
        self._load()
        i = bisect.bisect_right(self._times, ts)
        if i == 0:
            raise TbotError(f"{self._name()}: no VIX level at or before {iso_z(ts)}")
        if ts - self._times[i - 1] > self.max_age:
            raise TbotError(
                f"{self._name()}: latest VIX is from {iso_z(self._times[i - 1])}, older than "
                f"VIX_MAX_AGE_MINUTES={int(self.max_age.total_seconds() // 60)} at {iso_z(ts)}"
            )
        return self._levels[i - 1]


def _one_line(exc: BaseException) -> str:
    text = exc.one_line() if isinstance(exc, TbotError) else f"{type(exc).__name__}: {exc}"
    return scrub(" ".join(text.split()))[:300]


class MarketData:
    """Per bar time the VIX, per signal the frozen ``MarketContext``; a source's failure is recorded, never raised."""

    def __init__(
        self,
        *,
        vix: VixSource | None,
        vix_name: str = "feed",
        fundamentals: FundamentalsSource | None = None,
        imbalance: ImbalanceSource | None = None,
    ) -> None:
        self._vix_source, self.vix_name = vix, vix_name
        self._fundamentals = fundamentals
        self._imbalance: ImbalanceSource = imbalance or NoImbalance()
        self._vix: float | None = None
        self._vix_failed = ""

    def at(self, ts: datetime) -> float | None:
        """The VIX in force at a new bar time; if its source fails, None (and the failure goes into the contexts)."""
        self._vix, self._vix_failed = None, ""
        if self._vix_source is not None:
            try:
                self._vix = self._vix_source.vix(ts)
            except Exception as exc:
                self._vix_failed = f"VIX source {self.vix_name} failed: {_one_line(exc)}"
        return self._vix

    def context(self, signal: Signal) -> MarketContext:
        """What the gate's filters read about ``signal``'s market, as of the last ``at``."""
        failed: dict[str, str] = {}
        if self._vix_failed:
            failed["vix"] = self._vix_failed
        facts: dict[str, Any] = {}
        if self._fundamentals is not None and signal.side == "buy":  # exits never reach the entry filters
            try:
                facts[signal.symbol] = self._fundamentals.lookup(signal.symbol)
            except Exception as exc:
                failed["fundamentals"] = _one_line(exc)
        imbalance: dict[str, Imbalance] = {}
        try:
            report = self._imbalance.imbalance(signal.symbol, signal.ts)
            if report is not None:
                imbalance[signal.symbol] = report
        except Exception as exc:
            failed["imbalance"] = _one_line(exc)
        snap, quote = signal.context.get("indicators"), signal.context.get("option_quote")
        return MarketContext(
            indicators={signal.symbol: snap} if isinstance(snap, IndicatorSnapshot) else {},
            vix=self._vix,
            imbalance=imbalance,
            option_quotes={signal.symbol: quote} if isinstance(quote, OptionQuote) else {},
            fundamentals=facts,
            failed=failed,
        )


class MarketFeed(Feed):
    """A feed together with its ``MarketData``: what ``build_parts`` hands the engine as its feed.

    Bars, heartbeat and close are the wrapped feed's; anything else (``last_bar_ts``, a fake's
    counters) is looked up on it too.
    """

    def __init__(self, inner: Feed, market: MarketData) -> None:
        self.inner, self.market = inner, market

    def bars(self) -> Iterator[Bar]:
        return self.inner.bars()

    def vix(self, ts: datetime) -> float | None:
        """The wrapped feed's own VIX (the engine asks ``market`` instead)."""
        return self.inner.vix(ts)

    def heartbeat(self) -> None:
        self.inner.heartbeat()

    def close(self) -> None:
        self.inner.close()

    def __getattr__(self, name: str) -> Any:
        inner = self.__dict__.get("inner")
        if inner is None:
            raise AttributeError(name)
        return getattr(inner, name)


def market_data_of(feed: Feed) -> MarketData:
    """The engine's market data: the one ``build_parts`` bundled with ``feed``, else the feed's own VIX only."""
    return feed.market if isinstance(feed, MarketFeed) else MarketData(vix=feed)


def build_market_data(
    feed: Feed, settings: Settings, paths: HomePaths, *, fundamentals: FundamentalsSource | None
) -> MarketData:
    """The configured sources for ``feed`` (see the module docstring)."""
    name = vix_source_name(settings.vix_source, settings.broker)
    vix: VixSource | None = None
    if name == "feed":
        vix = feed
    elif name == "file":
        vix = VixFile(paths.vix_file, settings.vix_max_age_minutes)
    elif name == "finnhub":
        from tbot_core.data.finnhub import FinnhubVix

        vix = FinnhubVix(settings, paths)
    return MarketData(
        vix=vix,
        vix_name=name or "none",
        fundamentals=fundamentals if settings.fundamental_guard_enabled else None,
        imbalance=imbalance_source(feed, settings),
    )


def imbalance_source(feed: Feed, settings: Settings) -> ImbalanceSource | None:
    """The IBKR feed's imbalance when the scanner can use it: BROKER=ibkr, close strategy and scanner on."""
    if settings.broker.lower() != "ibkr" or not (settings.strat_close_enabled and settings.imbalance_scanner_enabled):
        return None
    from tbot_core.data.ibkr import IbkrFeed, IbkrImbalanceSource  # ib_async loads only for BROKER=ibkr

    return IbkrImbalanceSource.for_settings(feed, settings) if isinstance(feed, IbkrFeed) else None
