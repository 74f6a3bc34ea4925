"""The market-data interface: bars in, one at a time, with a heartbeat."""

from __future__ import annotations

import abc
from collections.abc import Iterator
from datetime import datetime

from tbot_core.bars import Bar


class Feed(abc.ABC):
    @abc.abstractmethod
    def bars(self) -> Iterator[Bar]:
        """Bars in time order; may block waiting for the next one; ends when the feed ends."""

    @abc.abstractmethod
    def vix(self, ts: datetime) -> float | None:
        """The latest VIX level at or before ``ts`` (None if unknown)."""

    def heartbeat(self) -> None:  # noqa: B027 - optional hook: a feed with no liveness probe of its own is fine
        """Raise if the feed is not delivering."""

    def close(self) -> None:  # noqa: B027 - optional hook: most feeds have nothing to unblock
        """Make a blocked ``bars()`` return soon; the engine's stop calls it. Nothing to do by default."""
