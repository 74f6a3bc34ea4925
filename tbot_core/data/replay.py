"""The replay feed: the home's OHLCV + VIX files, bar by bar, at ``REPLAY_SPEED`` bars/s.

Both files are streamed, never loaded whole, so memory stays flat from 100k to
millions of bars; VIX is read alongside the bars (both are in time order).
``start_after`` skips bars older than the engine's cursor (kept in ``core.db``),
so a restart continues instead of replaying the day; the bars of the cursor's
own timestamp are delivered again (order ids make that harmless).
A malformed line is a ``ConfigError`` naming the file and line (fail closed).
"""

from __future__ import annotations

import csv
import threading
import time
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from tbot_core.bars import Bar
from tbot_core.config import Settings
from tbot_core.data.base import Feed
from tbot_core.errors import ConfigError, NetworkError

OHLCV_FIELDS = ("timestamp_utc", "symbol", "open", "high", "low", "close", "volume")
VIX_FIELDS = ("timestamp_utc", "vix")


def _parse_ts(text: str, source: str, line: int | None = None) -> datetime:
    # Runs once per bar time: the error's "file:line" is only formatted when there is an error.
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise ConfigError(
            f"{_where(source, line)}: timestamp_utc: expected ISO 8601 UTC like 2026-01-05T14:30:00Z"
        ) from None
    if moment.tzinfo is None:
        raise ConfigError(f"{_where(source, line)}: timestamp_utc: expected a UTC time ending in Z")
    return moment


def _where(source: str, line: int | None) -> str:
    return source if line is None else f"{source}:{line}"


class ReplayFeed(Feed):
    def __init__(self, ohlcv: Path, vix: Path, settings: Settings, *, start_after: str | None = None) -> None:
        self.ohlcv = ohlcv
        self.vix_path = vix
        self._vix_name = vix.name  # named in a bad row's error; read per VIX row, so taken once
        self.speed = float(settings.replay_speed)
        self.start_after = start_after
        self.delivered = 0
        self.ended = False
        self._closed = threading.Event()
        self._vix_rows: Iterator[list[str]] | None = None
        self._vix_next: tuple[datetime, float] | None = None
        self._vix_now: float | None = None
        self.last_bar_ts: str | None = None

    def close(self) -> None:
        self._closed.set()

    def heartbeat(self) -> None:
        if not self.ohlcv.exists():
            raise NetworkError(f"replay feed: {self.ohlcv.name} is missing")

    def bars(self) -> Iterator[Bar]:
        for name in (self.ohlcv, self.vix_path):
            if not name.exists():
                raise ConfigError(
                    f"data/market/{name.name}: not found", hint="run `tbot init --force` or copy the data back"
                )
        started = time.monotonic()
        last_text, last_ts = "", None
        # Looked up once: the loop below runs per row (what it sets on ``self`` others read while it runs).
        source, closed, start_after, speed = self.ohlcv.name, self._closed.is_set, self.start_after, self.speed
        with open(self.ohlcv, newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = next(rows, None)
            if header is None or tuple(h.strip() for h in header) != OHLCV_FIELDS:
                raise ConfigError(f"{source}:1: expected header {','.join(OHLCV_FIELDS)}")
            for line, row in enumerate(rows, start=2):
                if closed():
                    return
                if len(row) != 7:
                    raise ConfigError(f"{source}:{line}: expected 7 fields, got {len(row)}")
                text, symbol, o, h, lo, c, v = row
                if start_after is not None and text < start_after:
                    continue
                if text != last_text or last_ts is None:  # the first row's time is parsed even if it is empty
                    if last_text and text < last_text:
                        raise ConfigError(f"{source}:{line}: timestamp_utc goes back in time")
                    last_ts, last_text = _parse_ts(text, source, line), text
                try:
                    bar = Bar(last_ts, symbol, float(o), float(h), float(lo), float(c), float(v))
                except ValueError:
                    raise ConfigError(f"{source}:{line}: open/high/low/close/volume: expected numbers") from None
                if speed > 0:
                    due = started + self.delivered / speed
                    delay = due - time.monotonic()
                    if delay > 0 and self._closed.wait(delay):
                        return
                self.delivered += 1
                self.last_bar_ts = text
                yield bar
        self.ended = True

    def vix(self, ts: datetime) -> float | None:
        """The latest VIX at or before ``ts``; queries must not go back in time (bars do not)."""
        if self._vix_rows is None:
            self._vix_rows = self._open_vix()
            self._advance_vix()
        while self._vix_next is not None and self._vix_next[0] <= ts:
            self._vix_now = self._vix_next[1]
            self._advance_vix()
        return self._vix_now

    def _open_vix(self) -> Iterator[list[str]]:
        with open(self.vix_path, newline="", encoding="utf-8") as handle:
            rows = csv.reader(handle)
            header = next(rows, None)
            if header is None or tuple(h.strip() for h in header) != VIX_FIELDS:
                raise ConfigError(f"{self.vix_path.name}:1: expected header {','.join(VIX_FIELDS)}")
            yield from rows

    def _advance_vix(self) -> None:
        assert self._vix_rows is not None
        row = next(self._vix_rows, None)
        if row is None:
            self._vix_next = None
            return
        try:
            self._vix_next = (_parse_ts(row[0], self._vix_name), float(row[1]))
        except (ValueError, IndexError):
            raise ConfigError(f"{self.vix_path.name}: row {row[:2]!r}: expected timestamp_utc,vix") from None
