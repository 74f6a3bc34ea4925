"""A multi-row text plot of one series (block characters), for the backtest screen."""

from __future__ import annotations

from rich.text import Text
from textual.reactive import reactive
from textual.widget import Widget

BLOCKS = " ▁▂▃▄▅▆▇█"


def resample(values: list[float], width: int) -> list[float]:
    """``width`` points: the last value of each bucket (an equity curve keeps its shape)."""
    if len(values) <= width:
        return values
    step = len(values) / width
    return [values[min(int((i + 1) * step) - 1, len(values) - 1)] for i in range(width)]


class ColumnPlot(Widget):
    """Columns scaled between the series' min and max; the labels carry the numbers."""

    values: reactive[list[float]] = reactive(list, always_update=True)

    def render(self) -> Text:
        height, width = max(self.size.height, 1), max(self.size.width - 12, 1)
        series = resample(self.values, width)
        if not series:
            return Text("no data")
        low, high = min(series), max(series)
        span = (high - low) or 1.0
        levels = [int((v - low) / span * (height * 8 - 1)) + 1 for v in series]
        out = Text(no_wrap=True)
        for row in range(height - 1, -1, -1):
            label = f"{high:>10.2f} " if row == height - 1 else (f"{low:>10.2f} " if row == 0 else " " * 11)
            out.append(label, style="dim")
            out.append("".join(BLOCKS[max(0, min(8, lvl - row * 8))] for lvl in levels))
            if row:
                out.append("\n")
        return out
