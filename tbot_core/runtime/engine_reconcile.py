"""When the engine compares the broker with its books: after connecting, and after every broker resume.

The comparison and its verdict are ``reconcile.py``; this mixin only gathers
the two sides on the engine thread (the broker's positions and open orders,
the ledger's open lots) and hands the result to the shared ``MismatchGuard``.
The supervisor asks for a comparison after a resume (``reconcile_due``, read
between bars), because the watchdog's thread must not touch the engine's
parts.  A comparison that cannot be made is a mismatch of its own (fail
closed) and is tried again at the next bar.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from tbot_core.brokers.base import Broker
from tbot_core.context import CoreContext
from tbot_core.runtime.reconcile import book_positions, find_mismatches, unreadable
from tbot_core.safety.error_handler import ErrorHandler, classify
from tbot_core.sanitize import scrub
from tbot_core.strategies.base import BarStrategy
from tbot_core.strategies.registry import STRATEGIES

if TYPE_CHECKING:  # engine.py imports this module
    from tbot_core.runtime.engine import EngineControl


class Reconciles:
    """Mixin for ``Engine`` (engine thread only)."""

    def _reconcile(self, cause: str) -> bool:
        """Compare now; True when new entries are blocked afterwards."""
        self.control.reconcile_due = False
        guard = self.control.mismatch
        side = "the ledger"
        try:
            books = book_positions(self.ctx.paths.ledger_db, self.broker.code)
            side = "the broker"
            rows = find_mismatches(self.broker.positions(), books, self.broker.open_orders(), self._strategy_names())
        except Exception as exc:
            rows = [unreadable(side, f"{classify(exc)}: {scrub(str(exc))}")]
            self.errors.record(exc, context={"where": f"reconcile ({cause}): reading {side}"})
            self.control.reconcile_due = True  # try again at the next bar
        guard.report(rows, cause, self.ctx.audit)
        return guard.blocking

    def _strategy_names(self) -> set[str]:
        names = set(STRATEGIES)
        names.update(s.name for s in self.strategies)
        return names

    # provided by Engine
    ctx: CoreContext
    broker: Broker
    control: EngineControl
    errors: ErrorHandler
    strategies: list[BarStrategy]
