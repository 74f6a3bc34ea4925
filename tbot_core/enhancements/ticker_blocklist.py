"""``ticker_blocklist``: no ticker trades twice in one session (always on).

The set lives in memory and in ``run/session.json`` (rewritten atomically on
each addition), so an engine restart within the same New York trading day
remembers it.  If that file cannot be read, no ticker can be proven unused:
every signal that day is blocked until the operator repairs or removes it.

A ticker is marked when an order for it was sent (``Gate.order_sent``), not
when the gate allowed it.  If that addition cannot be saved, the order is out
anyway: the ticker stays used in memory, ``mark`` raises (the gate audits it),
and every entry is blocked until a save succeeds — each later evaluation tries
the save again — because a restart now could not remember the ticker and
might trade it twice (``TICKER_BLOCKLIST_FATAL`` is fixed true).
"""

from __future__ import annotations

import json
from datetime import date

from tbot_core import settings_keys
from tbot_core.enhancements.base import Enhancement, EnhancementEnv, Outcome, allow, block, unavailable
from tbot_core.fsutil import atomic_write_text
from tbot_core.market_calendar import market_day
from tbot_core.selfcheck import CheckResult
from tbot_core.signals import MarketContext, Signal
from tbot_core.timeutil import iso_z

_KEY = "ticker_blocklist"


class TickerBlocklist(Enhancement):
    name = "ticker_blocklist"
    keys = settings_keys.ticker_blocklist.KEYS
    fatal_key = "ticker_blocklist_fatal"  # fixed true: a blocklist that cannot read or save blocks

    def __init__(self, env: EnhancementEnv) -> None:
        super().__init__(env)
        self._day: date | None = None
        self._used: dict[str, dict[str, str]] = {}
        self._unreadable = ""
        self._unsaved = ""  # why the in-memory set is not on disk ("" when it is)
        self._load()

    def _load(self) -> None:
        path = self.env.paths.session_file
        if not self.env.persist or not path.exists():
            return
        try:
            section = json.loads(path.read_text(encoding="utf-8")).get(_KEY, {})
            day = section.get("day") if section else None
            if day is None and section and section.get("tickers"):
                raise ValueError("tickers listed without a session day")
            self._day = date.fromisoformat(day) if day is not None else None
            self._used = {str(k): dict(v) for k, v in section.get("tickers", {}).items()}
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            self._unreadable = (
                f"run/session.json unreadable ({type(exc).__name__}): cannot prove any ticker unused this session"
            )
            self._day = market_day(self.env.clock())

    def evaluate(self, signal: Signal, market: MarketContext) -> Outcome:
        day = market_day(signal.ts)
        if day != self._day:
            self._day, self._used, self._unreadable, self._unsaved = day, {}, "", ""
        if self._unreadable:
            return unavailable("session_file_unreadable", self._unreadable)
        if self._unsaved and not self._saved_again():
            return unavailable("session_file_unsaved", self._unsaved)
        first = self._used.get(signal.symbol)
        if first is not None:
            return block(used_reason(signal.symbol, first), first=first)
        return allow(f"{signal.symbol} not yet used this session")

    def used_on(self, day: date, symbol: str) -> dict[str, str] | None:
        """How ``symbol`` was first used on ``day``, when ``evaluate`` on that day would surely block it for that.

        None unless the set in memory is that day's, readable and saved: then ``evaluate`` must run.  The
        fast backtest asks this before it builds a signal (most of its entries meet an already used ticker).
        """
        if day != self._day or self._unreadable or self._unsaved:
            return None
        return self._used.get(symbol)

    def free_on(self, day: date, symbol: str) -> bool:
        """``evaluate`` of a ``symbol`` signal on ``day``, when it surely allows: True (the day's set rolls over
        as in ``evaluate``).  False: ask ``evaluate``."""
        if day != self._day:
            self._day, self._used, self._unreadable, self._unsaved = day, {}, "", ""
        return not self._unreadable and not self._unsaved and symbol not in self._used

    def mark(self, signal: Signal) -> None:
        """Record that ``signal``'s ticker is used for its session (an order for it was sent).

        Raises if the addition cannot be saved; the ticker stays used in memory (the order is out).
        """
        day = market_day(signal.ts)
        if day != self._day:  # evaluate() did not run for this signal: its session starts here
            self._day, self._used, self._unreadable, self._unsaved = day, {}, "", ""
        self._used[signal.symbol] = {"strategy": signal.strategy, "side": signal.side, "ts_utc": iso_z(signal.ts)}
        if not self.env.persist:
            return
        try:
            self._save()
        except BaseException as exc:
            self._unsaved = (
                f"run/session.json not saved ({type(exc).__name__}) after {signal.symbol} was used: "
                "a restart could not remember it, so no entry until a save succeeds"
            )
            raise
        self._unsaved = ""

    def _saved_again(self) -> bool:
        """Retry the save a failed ``mark`` left pending; True once the file holds the session's set."""
        try:
            self._save()
        except Exception:
            return False
        self._unsaved = ""
        return True

    def _save(self) -> None:
        path = self.env.paths.session_file
        try:
            existing = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
            if not isinstance(existing, dict):
                existing = {}
        except (OSError, ValueError):
            existing = {}
        existing[_KEY] = {"day": self._day.isoformat() if self._day else None, "tickers": self._used}
        path.parent.mkdir(parents=True, exist_ok=True)
        atomic_write_text(path, json.dumps(existing, sort_keys=True, indent=1))

    def check_ready(self) -> CheckResult:
        if self._unreadable:
            return CheckResult.failed(
                self.name, self._unreadable, "inspect run/session.json; delete it only if no trade was made today"
            )
        if not self.env.paths.run_dir.is_dir():
            return CheckResult.failed(self.name, "run/ folder missing", "run `tbot init --force`")
        return CheckResult.passed(self.name, f"{len(self._used)} ticker(s) used in the current session")


def used_reason(symbol: str, first: dict[str, str]) -> str:
    return f"{symbol} already used this session ({first['strategy']} {first['side']} at {first['ts_utc']})"
