"""Broker against books: the positions and open orders a broker reports, compared with what the core knows.

The engine trades on the broker's picture (its positions, through the
portfolio) and books fills in the ledger.  If the two disagree — a position
opened by hand in the broker's web page, a fill the ledger never booked, an
order some other program placed — the bot would size, exit and account on a
wrong picture.  So at every engine start and after every broker resume the
engine compares (``find_mismatches``):

* each symbol's quantity at the broker with the open FIFO lots the ledger
  holds for that broker (``book_positions``, after the engine posted what was
  pending, so an ordinary fill never shows up here);
* each open order at the broker with the orders this core places: its client
  order id starts with one of the core's strategy names and names the side
  (``{strategy}-{symbol}-{side}-{bar_utc}``, see ``Engine._submit``).

A mismatch is reported to the ``MismatchGuard``: a critical ``broker_mismatch``
audit row (symbols and quantities, nothing secret), a notification, a
``broker_mismatch`` section in state.json, and new entries refused with a
verdict until an operator acknowledges with ``tbot control ack-mismatch``
(audited).  Exits stay allowed: closing risk is never what a wrong picture
makes worse.  A comparison that cannot be made (the broker or the ledger does
not answer) blocks as well — fail closed — and is retried at the next bar;
that block alone lifts by itself once a comparison succeeds.  An acknowledged
mismatch found again unchanged (after a reconnect) does not block again; a
new core process starts without acknowledgements.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from tbot_core.audit import AuditLog
from tbot_core.brokers.base import Order, Position
from tbot_core.state_schema import BrokerMismatch, MismatchRow
from tbot_core.timeutil import UtcTime, iso_z

POSITION, OPEN_ORDER, UNREADABLE = "position", "open_order", "unreadable"
ACK_HINT = "acknowledge with `tbot control ack-mismatch --reason ...` once the books are right"

_OPEN_LOTS = """
SELECT l.symbol, l.qty, (
    SELECT group_concat(lr.qty, ' ') FROM lot_reliefs lr
    WHERE lr.lot_id = l.lot_id AND NOT EXISTS (SELECT 1 FROM groups r WHERE r.reverses_group_id = lr.group_id)
)
FROM lots l
WHERE l.broker_code = ? AND NOT EXISTS (SELECT 1 FROM groups r WHERE r.reverses_group_id = l.group_id)
"""


@dataclass(frozen=True)
class Mismatch:
    kind: str  # position | open_order | unreadable
    symbol: str
    broker_qty: Decimal | None
    book_qty: Decimal | None
    detail: str

    def key(self) -> tuple[str, str, Decimal | None, Decimal | None]:
        """What makes two findings the same one (an acknowledged one found again after a reconnect)."""
        return self.kind, self.symbol, self.broker_qty, self.book_qty

    def to_record(self) -> dict[str, str | None]:
        return {
            "kind": self.kind,
            "symbol": self.symbol,
            "broker_qty": None if self.broker_qty is None else str(self.broker_qty),
            "book_qty": None if self.book_qty is None else str(self.book_qty),
            "detail": self.detail,
        }

    def row(self) -> MismatchRow:
        return MismatchRow(
            kind=self.kind, symbol=self.symbol, broker_qty=self.broker_qty, book_qty=self.book_qty, detail=self.detail
        )


def book_positions(ledger_db: Path, broker_code: str) -> dict[str, Decimal]:
    """Open quantity per symbol in the ledger's FIFO lots of ``broker_code`` (reversed groups left out)."""
    from tbot_core.ledger.conn import open_ledger

    conn = open_ledger(ledger_db, readonly=True)
    try:
        held: dict[str, Decimal] = {}
        for symbol, qty, reliefs in conn.execute(_OPEN_LOTS, (broker_code,)):
            left = Decimal(qty) - sum((Decimal(part) for part in (reliefs or "").split()), Decimal(0))
            held[symbol] = held.get(symbol, Decimal(0)) + left
        return {symbol: qty for symbol, qty in held.items() if qty}
    finally:
        conn.close()


def find_mismatches(
    positions: Iterable[Position],
    books: Mapping[str, Decimal],
    open_orders: Iterable[Order],
    strategies: Iterable[str],
) -> list[Mismatch]:
    """Every disagreement between the broker and the books, positions first, each list by symbol."""
    at_broker: dict[str, Decimal] = {}
    for position in positions:
        at_broker[position.symbol] = at_broker.get(position.symbol, Decimal(0)) + position.qty
    found = [
        Mismatch(
            POSITION,
            symbol,
            at_broker.get(symbol, Decimal(0)),
            books.get(symbol, Decimal(0)),
            _position_detail(at_broker.get(symbol, Decimal(0)), books.get(symbol, Decimal(0))),
        )
        for symbol in sorted(set(at_broker) | set(books))
        if at_broker.get(symbol, Decimal(0)) != books.get(symbol, Decimal(0))
    ]
    prefixes = tuple(f"{name}-" for name in strategies)
    for order in sorted(open_orders, key=lambda o: (o.symbol, o.order_id)):
        coid = order.client_order_id
        if not (prefixes and coid.startswith(prefixes) and f"-{order.side}-" in coid):
            found.append(
                Mismatch(
                    OPEN_ORDER,
                    order.symbol,
                    order.qty,
                    None,
                    f"open {order.side} order {order.order_id} for {order.qty} was not placed by this core",
                )
            )
    return found


def _position_detail(broker_qty: Decimal, book_qty: Decimal) -> str:
    if not book_qty:
        return f"the broker holds {broker_qty} the books do not have"
    if not broker_qty:
        return f"the books hold {book_qty} the broker does not have"
    return f"the broker holds {broker_qty}, the books {book_qty}"


def unreadable(what: str, problem: str) -> Mismatch:
    return Mismatch(UNREADABLE, "", None, None, f"could not compare with the broker: {what}: {problem}"[:300])


class MismatchGuard:
    """The reconciliation's verdict, shared by the engine (reports) and the supervisor (acknowledges).

    Lives as long as the supervisor's ``EngineControl`` (engine restarts keep
    it).  Readers on any thread get an immutable ``view()``; ``blocking`` is
    one attribute read on the engine's hot path.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._rows: tuple[Mismatch, ...] = ()
        self._acknowledged: frozenset[tuple[Any, ...]] = frozenset()
        self._view: BrokerMismatch | None = None
        self.blocking = False
        self.reason = ""
        # Set by the supervisor once its notifier exists: (event, cause) -> an alert; None sends nothing.
        self.notify: Callable[[str, str], None] | None = None

    def view(self) -> BrokerMismatch | None:
        return self._view

    def report(self, rows: list[Mismatch], cause: str, audit: AuditLog) -> bool:
        """Record a comparison's result; True when it blocks new entries from now on."""
        with self._lock:
            if not rows:
                lifted = self.blocking and all(r.kind == UNREADABLE for r in self._rows)
                if lifted or not self.blocking:  # a real mismatch keeps blocking until an operator acknowledges
                    self._set((), blocking=False)
                if lifted:
                    audit.append("engine", "broker_reconciled", {"cause": cause}, severity="info")
                return False
            if {r.key() for r in rows} <= self._acknowledged:
                return False  # the same picture an operator already accepted
            self._set(tuple(rows), blocking=True, found_utc=iso_z(), cause=cause)
        summary = "; ".join(f"{r.symbol or '-'} {r.kind}: {r.detail}" for r in rows)[:400]
        audit.append(
            "engine",
            "broker_mismatch",
            {"cause": cause, "mismatches": [r.to_record() for r in rows], "action": "new entries blocked"},
            severity="critical",
        )
        if self.notify is not None:
            try:
                self.notify("broker_mismatch", f"{cause}: {summary}; new entries blocked, {ACK_HINT}")
            except Exception as exc:  # the block and its audit row stand; only the alert failed
                audit.append("engine", "notify_failed", {"event": "broker_mismatch", "error": type(exc).__name__})
        return True

    def acknowledge(self, user: str, reason: str, audit: AuditLog) -> str:
        """An operator accepts the current mismatch: entries are allowed again. Returns the flag's outcome."""
        with self._lock:
            if not self.blocking:
                return "no broker mismatch to acknowledge"
            rows = self._rows
            self._acknowledged = self._acknowledged | {r.key() for r in rows if r.kind != UNREADABLE}
            self._set(rows, blocking=False, acknowledged_by=user)
        audit.append(
            "engine",
            "broker_mismatch_acknowledged",
            {"operator": user, "reason": reason, "mismatches": [r.to_record() for r in rows]},
            actor="operator",
            severity="warning",
        )
        return f"acknowledged {len(rows)} broker mismatch(es); new entries allowed"

    def _set(
        self,
        rows: tuple[Mismatch, ...],
        *,
        blocking: bool,
        found_utc: UtcTime | None = None,
        cause: str = "",
        acknowledged_by: str | None = None,
    ) -> None:
        """Replace the state and its view together (caller holds the lock)."""
        old = self._view
        self._rows = rows
        # The engine reads ``blocking`` then ``reason`` without the lock: never a block without its reason.
        if blocking:
            listed = "; ".join(f"{r.symbol or r.kind}: {r.detail}" for r in rows)
            self.reason = f"broker mismatch ({listed})"[:300] + f": {ACK_HINT}"
            self.blocking = True
        else:
            self.blocking = False
            self.reason = ""
        if not rows:
            self._view = None
            return
        self._view = BrokerMismatch(
            blocking=blocking,
            found_utc=found_utc or (old.found_utc if old else iso_z()),
            cause=cause or (old.cause if old else ""),
            rows=tuple(r.row() for r in rows),
            acknowledged_by=acknowledged_by,
            acknowledged_utc=iso_z() if acknowledged_by else None,
        )
