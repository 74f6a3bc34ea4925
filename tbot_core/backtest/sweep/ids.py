"""Stable names: a run is named by what decides its figures, a sweep by what decides its runs.

Both are hashes of canonical JSON (sorted keys, canonical ``.env_bot`` values), so the same command
on the same data names the same runs on any machine, and ``--resume`` finds them again.
"""

from __future__ import annotations

import hashlib
import json
from datetime import date
from typing import Any

from tbot_core.config import Settings, is_secret_key


def _hash(payload: dict[str, Any], size: int) -> str:
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:size]


def config_fingerprint(settings: Settings) -> str:
    """The base settings a sweep runs on (filter toggles included); secret values never enter it."""
    public = {key: value for key, value in settings.to_env().items() if not is_secret_key(key)}
    return _hash(public, 16)


def run_id(strategy: str, params: dict[str, str], data: str, start: date, end: date, config: str) -> str:
    return _hash(
        {"strategy": strategy, "params": params, "data": data, "start": start, "end": end, "config": config}, 16
    )


def sweep_id(strategy: str, definition: dict[str, Any]) -> str:
    """``{strategy}-{12 hex}``: the folder name under the backtest folder (``HomePaths.sweep_dir``)."""
    return f"{strategy}-{_hash({'strategy': strategy, **definition}, 12)}"
