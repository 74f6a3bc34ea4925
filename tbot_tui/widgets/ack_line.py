"""One line under the header: the last control request and the core's answer."""

from __future__ import annotations

from textual.widgets import Static


class AckLine(Static):
    """Shows ``stop requested … waiting`` then ``stop acknowledged by core: stopping (audit #N)``."""

    def on_mount(self) -> None:
        self.watch(self.app, "ack_text", self._show, init=True)

    def _show(self, message: str) -> None:
        self.display = bool(message)
        self.update(message)
