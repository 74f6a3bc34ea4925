"""What "best" means: ``--objective sharpe|return|calmar``, higher is better.

A run without the figure (Sharpe needs 20 daily returns; Calmar needs a drawdown) has no score and is
never the best: a sweep must not crown a run for a number it does not have.
"""

from __future__ import annotations

from typing import Any

OBJECTIVES = ("sharpe", "return", "calmar")


def score(figures: dict[str, Any], objective: str) -> float | None:
    """Sharpe (annualized), total return, or Calmar = total return / |max drawdown| (over the run's window)."""
    if objective == "sharpe":
        value = figures.get("sharpe_annualized")
        return None if value in (None, "") else float(value)
    total = figures.get("total_return")
    if total in (None, ""):
        return None
    if objective == "return":
        return float(total)
    drawdown = float(figures.get("max_drawdown") or 0)
    return float(total) / abs(drawdown) if drawdown < 0 else None


def best(rows: list[dict[str, Any]], key: str = "objective") -> dict[str, Any] | None:
    """The highest score; the first such run in plan order on a tie (so the pick is deterministic)."""
    found = None
    for row in rows:
        value = row.get(key)
        if value is not None and (found is None or value > found[key]):
            found = row
    return found
