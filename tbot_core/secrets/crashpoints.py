"""Named steps of a key rotation where a test can make the process die by SIGKILL.

A test facility, armed only in-process: the rotation crash tests run a child
that calls :func:`arm` (``name``, or ``name#N`` for the N-th time that step is
reached, counting from 1) and then rotates; :func:`crash_point` then kills the
process exactly there, as a power cut or the OOM killer would.  Nothing reads
the environment or the config, so no production home can arm it; unarmed it
costs one comparison.
"""

from __future__ import annotations

import os
import signal

_armed: tuple[str, int] | None = None
_hits: dict[str, int] = {}


def arm(spec: str) -> None:
    """Die at ``spec`` (``name`` or ``name#N``); for the crash tests' child processes only."""
    global _armed
    point, _, nth = spec.partition("#")
    _armed = (point, int(nth or 1))


def crash_point(name: str) -> None:
    if _armed is None or _armed[0] != name:
        return
    _hits[name] = _hits.get(name, 0) + 1
    if _hits[name] == _armed[1]:
        os.kill(os.getpid(), signal.SIGKILL)
