"""Engine fills -> the ledger, only through ``tbot_core.ledger.sync.ingest_activities``.

Each fill is posted with the broker's fitid, so the ledger's UNIQUE
(broker_code, fitid) makes a repeat harmless.

- Paper: fills come from core.db and are marked posted afterwards; the cash the
  account was opened with is booked first, as an owner TRANSFER, so the books
  start from the same balance as the account.  A fill that could not be posted
  stays pending and is retried at the next fill and at every start.
- A real broker: its activities are read back through the adapter's
  ``fetch_activities`` (the same mapping as ``tbot ledger sync --from-broker``,
  so the two never disagree on a fitid's content), from a few days back at
  start and from the newest booked one after that; known fitids are skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tbot_core.brokers.base import Broker
from tbot_core.context import CoreContext
from tbot_core.core_store import CoreStore
from tbot_core.money import from_cents
from tbot_core.timeutil import parse_iso_z, utc_now

if TYPE_CHECKING:  # imported at run time inside post_pending: a ledger that cannot load leaves the fills pending
    from tbot_core.ledger.activity import Activity

# ``tbot_core.ledger.sync.ingest_activities``, handed in by ``post_pending`` (its result is not used here).
Ingest = Callable[..., object]

BROKER_LOOKBACK = timedelta(days=3)


class LedgerPoster:
    def __init__(self, ctx: CoreContext, store: CoreStore, broker: Broker) -> None:
        self.ctx = ctx
        self.store = store
        self.broker = broker
        self.broker_code = broker.code
        self.posted = 0
        self.pending = 0
        self.last_problem = ""
        self._since: datetime = utc_now() - BROKER_LOOKBACK

    def post_pending(self) -> int:
        from tbot_core.ledger.activity import Activity  # here, not at the top: the ledger loads on the first fill
        from tbot_core.ledger.sync import ingest_activities

        if not self.broker.simulated:
            return self._post_broker_activities(ingest_activities)
        rows = self.store.unposted_fills()
        self.pending = len(rows)
        if not rows and self.posted:
            return 0
        try:
            activities = [self._opening(Activity, *self.broker.opening_deposit())] + [
                self._activity(Activity, row) for row in rows
            ]
            self._ingest(ingest_activities, activities)
        except Exception as exc:
            self._problem(f"ledger ingest failed: {type(exc).__name__}: {exc}")
            return 0
        self.store.mark_posted([r[0] for r in rows])
        self.posted += len(rows) or (0 if self.posted else 1)
        self.pending = 0
        self.last_problem = ""
        return len(rows)

    def _post_broker_activities(self, ingest_activities: Ingest) -> int:
        try:
            activities = self.broker.fetch_activities(self._since)
            if activities:
                self._ingest(ingest_activities, activities)
                self._since = max(a.timestamp_utc for a in activities)
        except Exception as exc:
            self._problem(f"broker activity sync failed: {type(exc).__name__}: {exc}")
            return 0
        self.posted += len(activities)
        self.last_problem = ""
        return len(activities)

    def _ingest(self, ingest_activities: Ingest, activities: list[Activity]) -> None:
        run_id = "engine-" + hashlib.sha256("|".join(a.fitid for a in activities).encode()).hexdigest()[:24]
        ingest_activities(
            self.ctx.paths.ledger_db,
            self.broker_code,
            activities,
            sync_run_id=run_id,
            caller="system",
            audit=self.ctx.audit,
        )

    @staticmethod
    def _opening(activity_cls: type[Activity], fitid: str, cents: int, opened_utc: str) -> Activity:
        amount = from_cents(cents)
        return activity_cls(
            fitid=fitid,
            type="TRANSFER",
            symbol="",
            side="",
            qty=Decimal(0),
            price=Decimal(0),
            amount=amount,
            fee=Decimal(0),
            timestamp_utc=parse_iso_z(opened_utc),
        )

    @staticmethod
    def _activity(activity_cls: type[Activity], row: tuple[Any, ...]) -> Activity:
        fitid, _order_id, symbol, side, qty, price_cents, fee_cents, ts, _strategy = row
        price, fee = from_cents(price_cents), from_cents(fee_cents)
        gross = price * Decimal(qty)
        amount = -gross if side == "buy" else gross  # signed gross value; the fee travels separately
        return activity_cls(
            fitid=fitid,
            type="FILL",
            symbol=symbol,
            side=side,
            qty=Decimal(qty),
            price=price,
            amount=amount,
            fee=fee,
            timestamp_utc=parse_iso_z(ts),
        )

    def _problem(self, text: str) -> None:
        if text != self.last_problem:
            self.ctx.syslog.error("ledger_poster", text)
        self.last_problem = text
