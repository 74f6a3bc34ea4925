"""Engine fills -> the ledger, only through ``tbot_core.ledger.sync.ingest_activities``.

Each fill is posted with the broker's fitid, so the ledger's UNIQUE
(broker_code, fitid) makes a repeat harmless; the paper store marks fills as
posted afterwards.  A fill that could not be posted (ledger missing or
failing) stays pending and is retried at the next fill and at every start.
"""

from __future__ import annotations

import hashlib
from decimal import Decimal

from tbot_core.core_store import CoreStore, from_cents
from tbot_core.runtime.context import CoreContext
from tbot_core.timeutil import parse_iso_z


class LedgerPoster:
    def __init__(self, ctx: CoreContext, store: CoreStore, broker_code: str) -> None:
        self.ctx = ctx
        self.store = store
        self.broker_code = broker_code
        self.posted = 0
        self.pending = 0
        self.last_problem = ""

    def post_pending(self) -> int:
        rows = self.store.unposted_fills()
        self.pending = len(rows)
        if not rows:
            return 0
        try:
            from tbot_core.ledger.activity import Activity
            from tbot_core.ledger.sync import ingest_activities
        except ImportError as exc:
            self._problem(f"ledger modules not importable ({exc.name}); {len(rows)} fills wait in core.db")
            return 0
        run_id = "engine-" + hashlib.sha256("|".join(r[0] for r in rows).encode()).hexdigest()[:24]
        try:
            activities = [self._activity(Activity, row) for row in rows]
            ingest_activities(self.ctx.paths.ledger_db, self.broker_code, activities, sync_run_id=run_id,
                              caller="system", audit=self.ctx.audit)
        except Exception as exc:  # noqa: BLE001 - fills stay pending; retried next time
            self._problem(f"ledger ingest failed: {type(exc).__name__}: {exc}")
            return 0
        self.store.mark_posted([r[0] for r in rows])
        self.posted += len(rows)
        self.pending = 0
        self.last_problem = ""
        return len(rows)

    def _activity(self, activity_cls, row: tuple):  # type: ignore[no-untyped-def]
        fitid, _order_id, symbol, side, qty, price_cents, fee_cents, ts, _strategy = row
        price, fee = from_cents(price_cents), from_cents(fee_cents)
        gross = price * Decimal(qty)
        amount = -gross if side == "buy" else gross  # signed gross value; the fee travels separately
        return activity_cls(fitid=fitid, type="FILL", symbol=symbol, side=side, qty=Decimal(qty), price=price,
                            amount=amount, fee=fee, timestamp_utc=parse_iso_z(ts))

    def _problem(self, text: str) -> None:
        if text != self.last_problem:
            self.ctx.syslog.error("ledger_poster", text)
        self.last_problem = text
