"""What every strategy's array form hands the event loop: candidate bars, and the signal of one of them.

A strategy's ``decide`` emits at most one signal per bar.  Its array form
(``open_rule``, ``mid_rule``, ``close_rule``) splits the bars where it can
emit one into three sorted index arrays:

* ``buys``: the strategy signals a buy here whatever it holds;
* ``sells``: it signals a sell here whatever it holds; the engine drops the
  sell unless the strategy holds the symbol (``sells_need_no_exit_sent``:
  mid only signals it while this session's exit is not yet sent);
* ``exits``: its exit rule fires here *if* it holds the symbol and has not
  sent this session's exit yet (holdings are path dependent: the loop decides).

Exits are checked before entries, as ``decide`` does: a bar whose exit fired
emits nothing else.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from tbot_core.backtest.fast.exact import Indicators
from tbot_core.backtest.fast.timeline import SymbolTimeline
from tbot_core.config import Settings


@dataclass
class Candidates:
    buys: np.ndarray
    sells: np.ndarray
    exits: np.ndarray
    sells_respect_exit_sent: bool = False
    # Per candidate bar: (reason, extra signal context); the exit reason per exit bar.
    why: Callable[[int, str], tuple[str, dict[str, Any]]] = field(default=lambda _k, _side: ("", {}))
    exit_why: Callable[[int], str] = field(default=lambda _k: "")


Rule = Callable[[SymbolTimeline, Indicators, Settings], Candidates]


def first_due(t: SymbolTimeline, minutes: int) -> np.ndarray:
    """Per session, the first in-session bar at most ``minutes`` before the close (flat-before-close exits)."""
    return t.first_per_session(t.in_session & (t.mtc <= minutes))


def flat_reason(t: SymbolTimeline, k: int, minutes: int) -> str:
    session = t.session_of(k)
    return f"flat {minutes} min before the {session.close:%H:%M} UTC close"


def sorted_union(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``np.union1d`` of two sorted bar-index arrays, by a sort and a diff (no hashing of a million values)."""
    both = np.sort(np.concatenate((a, b)), kind="stable")
    if both.size == 0:
        return both
    return both[np.r_[True, both[1:] != both[:-1]]]
