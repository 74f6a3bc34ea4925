"""Growing a Select's options as new values are seen, keeping the operator's choice."""

from __future__ import annotations

from textual.widgets import Select


def grow_options(select: Select[str], known: set[str], seen: set[str]) -> bool:
    """Add ``seen - known`` to ``select``; returns True when the options changed."""
    new = seen - known
    if not new:
        return False
    known |= new
    current = select.value
    with select.prevent(Select.Changed):
        select.set_options((name, name) for name in sorted(known))
        if current in known:
            select.value = current
    return True
