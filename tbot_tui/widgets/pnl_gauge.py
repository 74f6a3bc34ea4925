"""Daily loss against the limit as a bar: the number the kill switch watches."""

from __future__ import annotations

from decimal import Decimal

from rich.text import Text
from textual.reactive import reactive
from textual.widgets import Static

WARN_AT = Decimal("0.5")
DANGER_AT = Decimal("0.8")


class PnlGauge(Static):
    """``loss ██████░░░░ 62% of limit``; colour and a word say how close the halt is."""

    fraction: reactive[Decimal | None] = reactive(None)

    def watch_fraction(self, fraction: Decimal | None) -> None:
        self.set_class(fraction is not None and WARN_AT <= fraction < DANGER_AT, "-warn")
        self.set_class(fraction is not None and fraction >= DANGER_AT, "-danger")
        self.refresh()

    def render(self) -> Text:
        width = max(self.size.width - 22, 5)
        if self.fraction is None:
            return Text("loss vs limit  —", no_wrap=True)
        shown = min(self.fraction, Decimal(1))
        filled = int(shown * width)
        word = "HALT" if self.fraction >= 1 else ("NEAR" if self.fraction >= DANGER_AT else "ok")
        pct = int(self.fraction * 100)
        return Text(f"loss {'█' * filled}{'░' * (width - filled)} {pct:>3}% {word}", no_wrap=True)
