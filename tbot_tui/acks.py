"""Matching control flags the console wrote with the core's acknowledgements.

The first read of the audit log is history: acknowledgements in it were for
flags requested before this console started, so they are not news and must not
raise a notification (only a nonce this console wrote can still match there).
"""

from __future__ import annotations

import re
from collections import OrderedDict

from tbot_core.audit import AuditRow
from tbot_core.control import ControlFlag
from tbot_tui.messages import Acknowledgement

_ACK_EVENT = re.compile(r"^flag_([a-z_]+)_acknowledged$")
MAX_PENDING = 32


class AckTracker:
    """Remembers the nonces of flags this console wrote (bounded) and spots their acks."""

    def __init__(self) -> None:
        self._pending: OrderedDict[str, str] = OrderedDict()

    def expect(self, record: ControlFlag) -> None:
        self._pending[record.nonce] = record.flag
        while len(self._pending) > MAX_PENDING:
            self._pending.popitem(last=False)

    def waiting_for(self) -> list[str]:
        return list(self._pending.values())

    def scan(self, rows: list[AuditRow], *, history: bool = False) -> list[Acknowledgement]:
        """Acks in ``rows``; with ``history`` only those of flags this console wrote (matched by nonce)."""
        found = []
        for row in rows:
            match = _ACK_EVENT.match(row.event) if row.category == "control" else None
            if not match:
                continue
            context = row.context_dict()
            mine = self._pending.pop(str(context.get("nonce")), None) is not None
            if mine or not history:
                found.append(
                    Acknowledgement(match.group(1), str(context.get("outcome", "done")), row.seq, row.ts_utc, mine)
                )
        return found
