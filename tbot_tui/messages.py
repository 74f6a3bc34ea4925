"""Typed messages: how thread workers and dialogs hand results to the UI thread."""

from __future__ import annotations

from dataclasses import dataclass

from textual.message import Message

from tbot_core.audit import AuditRow
from tbot_core.control import ControlFlag
from tbot_core.state import StateRead


class StateRefreshed(Message):
    """A fresh classification of ``run/state.json`` (ok, missing, stale or garbled)."""

    def __init__(self, read: StateRead) -> None:
        super().__init__()
        self.read = read


class AuditPolled(Message):
    """Rows committed since the last poll, or why the audit database could not be read."""

    def __init__(self, rows: list[AuditRow], problem: str = "") -> None:
        super().__init__()
        self.rows = rows
        self.problem = problem


class FlagWritten(Message):
    """The console wrote a control flag; its acknowledgement is awaited in the audit log."""

    def __init__(self, record: ControlFlag) -> None:
        super().__init__()
        self.record = record


@dataclass(frozen=True)
class Acknowledgement:
    flag: str
    outcome: str
    seq: int
    ts_utc: str
    mine: bool


class FlagAcknowledged(Message):
    def __init__(self, ack: Acknowledgement) -> None:
        super().__init__()
        self.ack = ack
