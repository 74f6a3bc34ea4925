"""Fault injection for the rotation crash tests: die by SIGKILL at a named step.

``TBOT_CRASH_POINT=name`` (or ``name#N`` for the N-th time that step is reached,
counting from 1) makes :func:`crash_point` kill the process with SIGKILL
there, exactly as a power cut or the OOM killer would.  Unset, it costs one
dictionary lookup; nothing in normal operation sets it.
"""

from __future__ import annotations

import os
import signal

CRASH_ENV = "TBOT_CRASH_POINT"
_hits: dict[str, int] = {}


def crash_point(name: str) -> None:
    wanted = os.environ.get(CRASH_ENV)
    if not wanted:
        return
    point, _, nth = wanted.partition("#")
    if point != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == int(nth or 1):
        os.kill(os.getpid(), signal.SIGKILL)
