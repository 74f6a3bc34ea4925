"""A sweep's objective over its two-key grid, as a text heatmap (the console cannot show heatmap.png).

Each cell is coloured by its third of the grid's range through the stylesheet's component classes
(``sweep-heatmap--low/--mid/--high``, ``--best``, ``--none``), and every cell also carries its number,
so the grid reads the same without colour.
"""

from __future__ import annotations

from rich.text import Text
from textual.widgets import Static

from tbot_tui.sweep_data import Heatmap

CELL = 9
LABEL = 10


def level(value: float | None, low: float, high: float, best: float | None) -> str:
    """The component class of one cell: its third of [low, high], or best / none."""
    if value is None:
        return "none"
    if best is not None and value == best:
        return "best"
    if high <= low:
        return "mid"
    share = (value - low) / (high - low)
    return "low" if share < 1 / 3 else "mid" if share < 2 / 3 else "high"


def _fit(text: str, width: int) -> str:
    return text if len(text) <= width else text[: width - 1] + "…"


class SweepHeatmap(Static):
    COMPONENT_CLASSES = {
        "sweep-heatmap--low",
        "sweep-heatmap--mid",
        "sweep-heatmap--high",
        "sweep-heatmap--best",
        "sweep-heatmap--none",
        "sweep-heatmap--label",
    }

    def show(self, heatmap: Heatmap | None, objective: str = "") -> None:
        self.update(self.grid_text(heatmap, objective) if heatmap else Text("no heatmap (a grid of two keys has one)"))

    def grid_text(self, heatmap: Heatmap, objective: str) -> Text:
        scores = [v for line in heatmap.cells for v in line if v is not None]
        low, high = (min(scores), max(scores)) if scores else (0.0, 0.0)
        best = max(scores) if scores else None
        label = self.get_component_rich_style("sweep-heatmap--label")
        out = Text(no_wrap=True)
        out.append(f"{objective} by {heatmap.row_key} (rows) × {heatmap.col_key} (columns)\n", style=label)
        out.append(" " * LABEL)
        for value in heatmap.col_values:
            out.append(_fit(value, CELL - 1).rjust(CELL), style=label)
        for value, line in zip(heatmap.row_values, heatmap.cells):
            out.append("\n")
            out.append(_fit(value, LABEL - 1).rjust(LABEL - 1) + " ", style=label)
            for cell in line:
                style = self.get_component_rich_style(f"sweep-heatmap--{level(cell, low, high, best)}")
                out.append(" ")
                out.append(("-" if cell is None else f"{cell:.4g}").rjust(CELL - 1), style=style)
        return out
