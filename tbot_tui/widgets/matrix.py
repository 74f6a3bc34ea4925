"""The seed's Emergency Event Matrix with each row's live state.

The table fits its width instead of scrolling sideways: wide enough (a full-width
panel on a large terminal), every field has its own column on one line; narrower
(the grid's quarter at 160 columns, a tab at 80), each row takes two or three
lines — state over the time it last fired, event over its cause (when it fired) — and scope and
response are always shown whole, the response wrapped. Only event and cause are
ever abbreviated (with "…"), and only on a row that fired (the cause takes the event's second line).
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass

from rich.text import Text
from textual.widgets import DataTable

from tbot_core.emergency import EMERGENCY_MATRIX
from tbot_core.state import StateRead
from tbot_core.state_schema import MatrixRowState, MatrixRowView
from tbot_tui.view import DASH, hhmmss, text

TRIGGERED_STYLE = "bold red reverse"
CELL_PADDING = 2  # DataTable's default cell padding, one column each side
STATE_W, LAST_W, SCOPE_W = 9, 8, max(len(s.scope) for s in EMERGENCY_MATRIX)
EVENT_W = max(len(s.event) for s in EMERGENCY_MATRIX)
RESPONSE_W = max(len(s.response) for s in EMERGENCY_MATRIX)
CAUSE_W, EVENT_MIN = 32, 12
WIDE = (
    ("state", STATE_W),
    ("event", EVENT_W),
    ("last", LAST_W),
    ("cause", CAUSE_W),
    ("scope", SCOPE_W),
    ("response", RESPONSE_W),
)
WIDE_MIN = sum(w + CELL_PADDING for _label, w in WIDE)


@dataclass(frozen=True)
class MatrixLayout:
    """Column widths for one table width; ``lines`` is the row height (1: one column per field)."""

    lines: int
    event: int
    response: int

    @property
    def columns(self) -> list[tuple[str, int]]:
        if self.lines == 1:
            return list(WIDE)
        return [("state", STATE_W), ("event · cause", self.event), ("scope", SCOPE_W), ("response", self.response)]


def wrapped_width(texts: list[str], lines: int) -> int:
    """The narrowest width at which every text wraps (at spaces) into at most ``lines`` lines."""
    width = max(1, max(len(t) for t in texts) // lines)
    while any(len(textwrap.wrap(t, width)) > lines for t in texts):
        width += 1
    return width


def matrix_layout(width: int) -> MatrixLayout:
    """One line per row when every column fits; else stacked rows two lines high (three when narrower),
    the response getting the width it needs to show whole and the event/cause column the rest."""
    if width >= WIDE_MIN:
        return MatrixLayout(1, EVENT_W, RESPONSE_W)
    responses = [s.response for s in EMERGENCY_MATRIX]
    fixed = STATE_W + SCOPE_W + 4 * CELL_PADDING
    for lines in (2, 3):
        need = wrapped_width(responses, lines)
        rest = width - fixed - need
        if rest >= EVENT_MIN:
            event = min(EVENT_W, rest)  # the event whole first, then any spare width to the response
            return MatrixLayout(lines, event, width - fixed - event)
    response = wrapped_width(responses, 3)
    return MatrixLayout(3, max(EVENT_MIN, width - fixed - response), response)


def fit(value: str, width: int) -> str:
    return value if len(value) <= width else value[: max(width - 1, 0)] + "…"


class MatrixPanel(DataTable):
    """Rows in the seed's order; a triggered row is reversed and says TRIGGERED (legible without colour)."""

    BORDER_TITLE = "Emergency matrix"
    _shown: dict[str, MatrixRowView] | None = None
    _layout: MatrixLayout | None = None

    def on_mount(self) -> None:
        self.cursor_type = "row"
        self.watch(self.app, "state_read", self._on_state, init=True)

    def on_resize(self) -> None:
        self._render_rows(self._shown or {})

    def _on_state(self, read: StateRead | None) -> None:
        matrix = (read.state.emergency_matrix if read and read.state else None) or ()
        live = {r.key: r for r in matrix}
        if live == self._shown:
            return
        self._shown = live
        self._layout = None
        self._render_rows(live)

    def _render_rows(self, live: dict[str, MatrixRowView]) -> None:
        layout = matrix_layout(self.size.width - self.styles.scrollbar_size_vertical)
        if layout == self._layout:
            return
        self._layout = layout
        self.clear(columns=True)
        for label, width in layout.columns:
            self.add_column(label, width=width)
        for spec in EMERGENCY_MATRIX:
            row = live.get(spec.key)
            state = DASH if row is None else str(row.state)
            triggered = row is not None and row.state == MatrixRowState.TRIGGERED
            style = TRIGGERED_STYLE if triggered else ""
            shown_state = state.upper() if triggered else state
            last = hhmmss(row.last_utc if row else None)
            cause = text(row.cause if row else None)
            if layout.lines == 1:
                cells = [shown_state, spec.event, last, cause, spec.scope, spec.response]
            else:
                response = "\n".join(textwrap.wrap(spec.response, layout.response))
                when = "" if last == DASH else last  # the second line only when the row ever fired
                if cause == DASH:  # never fired: the event may take both lines
                    event = "\n".join(textwrap.wrap(spec.event, layout.event)[: layout.lines])
                else:
                    event = f"{fit(spec.event, layout.event)}\n{fit(cause, layout.event)}"
                cells = [f"{shown_state}\n{when}", event, spec.scope, response]
            self.add_row(*(Text(c, style=style, no_wrap=True) for c in cells), key=spec.key, height=layout.lines)
