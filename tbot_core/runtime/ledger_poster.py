"""Engine fills -> the ledger, only through ``tbot_core.ledger.sync.ingest_activities``.

Each fill is posted with the broker's fitid, so the ledger's UNIQUE
(broker_code, fitid) makes a repeat harmless.  One posting path for every
broker: an ``ActivitySource`` says what is still to book and is told when it
has been booked.

- Paper (``PaperActivities``): fills come from core.db and are marked posted
  afterwards; the cash the account was opened with is booked first, as an
  owner TRANSFER, so the books start from the same balance as the account.  A
  fill that could not be posted stays pending and is retried at the next fill
  and at every start.
- A real broker (``BrokerActivities``): its activities are read back through the
  adapter's ``fetch_activities`` (the same mapping as ``tbot ledger sync
  --from-broker``, so the two never disagree on a fitid's content), from a few
  days back at start and from the newest booked one after that; known fitids
  are skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from datetime import datetime, timedelta
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

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


class ActivitySource(Protocol):
    """What is still to be booked, and the acknowledgement once the ledger holds it."""

    def pending(self) -> list[Activity]:
        """Activities not yet booked (may repeat booked ones: the ledger skips a known fitid)."""

    def booked(self, activities: list[Activity]) -> None:
        """The ledger committed ``activities``: do not hand them in again."""


class PaperActivities:
    """The paper broker's fills in core.db, after the opening deposit, until they are marked posted."""

    def __init__(self, store: CoreStore, broker: Broker) -> None:
        self.store, self.broker = store, broker
        self.opened = False  # the opening deposit is handed in once per core life (a repeat is a known fitid)

    def pending(self) -> list[Activity]:
        from tbot_core.ledger.activity import Activity  # here, not at the top: the ledger loads on the first fill

        fills = [_fill(Activity, row) for row in self.store.unposted_fills()]
        if self.opened and not fills:
            return []
        return [_opening(Activity, *self.broker.opening_deposit()), *fills]

    def booked(self, activities: list[Activity]) -> None:
        self.store.mark_posted([a.fitid for a in activities if a.type == "FILL"])
        self.opened = True


class BrokerActivities:
    """A real broker's activity feed, read from a few days back at start and from the newest booked one after."""

    def __init__(self, broker: Broker) -> None:
        self.broker = broker
        self.since: datetime = utc_now() - BROKER_LOOKBACK

    def pending(self) -> list[Activity]:
        return self.broker.fetch_activities(self.since)

    def booked(self, activities: list[Activity]) -> None:
        self.since = max((a.timestamp_utc for a in activities), default=self.since)


class LedgerPoster:
    def __init__(self, ctx: CoreContext, store: CoreStore, broker: Broker) -> None:
        self.ctx = ctx
        self.broker_code = broker.code
        self.source: ActivitySource = PaperActivities(store, broker) if broker.simulated else BrokerActivities(broker)
        self.posted = 0
        self.pending = 0
        self.last_problem = ""

    def post_pending(self) -> int:
        """Book what the source holds; on failure it stays pending (retried at the next fill and every start)."""
        from tbot_core.ledger.sync import ingest_activities

        try:
            activities = self.source.pending()
            self.pending = sum(a.type == "FILL" for a in activities)
            if activities:
                self._ingest(ingest_activities, activities)
                self.source.booked(activities)
        except Exception as exc:
            self._problem(f"ledger posting failed: {type(exc).__name__}: {exc}")
            return 0
        fills = self.pending
        self.posted += fills
        self.pending = 0
        self.last_problem = ""
        return fills

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

    def _problem(self, text: str) -> None:
        if text != self.last_problem:
            self.ctx.syslog.error("ledger_poster", text)
        self.last_problem = text


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


def _fill(activity_cls: type[Activity], row: tuple[Any, ...]) -> Activity:
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
