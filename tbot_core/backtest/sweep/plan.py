"""Which parameter sets a sweep runs: every grid point, a seeded random sample of them, or optuna's picks.

optuna's ask/tell loop runs here, in the client; the trials run on the workers.  Trials are asked in
fixed-size batches and told in ask order once the whole batch is back, so the sampler sees the same
history whatever the number of workers or the order results arrive in: a seeded optuna sweep gives the
same trials on a laptop and on a cluster.  Every value optuna picks is an index into the key's list of
canonical values, so it never invents a value the grid (and the key's parser) did not allow.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from typing import Any

from tbot_core.backtest.sweep.arguments import SEARCHES
from tbot_core.backtest.sweep.params import ParamSpec, grid, grid_size
from tbot_core.errors import ConfigError

# Trials asked before any is told: enough to keep a few workers busy, fixed so results never depend on them.
OPTUNA_BATCH = 8

Params = dict[str, str]
# Runs a list of parameter sets, returns one row per set (same order) with an "objective" (float or None).
Evaluate = Callable[[list[Params]], list[dict[str, Any]]]


def planned_runs(specs: list[ParamSpec], search: str, trials: int | None) -> int:
    size = grid_size(specs)
    return size if search == "grid" else min(trials or 0, size) if search == "random" else trials or 0


def check_search(search: str, trials: int | None) -> None:
    if search not in SEARCHES:
        raise ConfigError(f"--search: expected {'|'.join(SEARCHES)}, got {search[:20]!r}")
    if search == "grid" and trials is not None:
        raise ConfigError("--trials: only for --search random|optuna (a grid runs every point)")
    if search != "grid" and (trials is None or trials < 1):
        raise ConfigError(f"--trials: --search {search} needs --trials N with N >= 1")


def random_points(specs: list[ParamSpec], trials: int, seed: int) -> list[Params]:
    """``trials`` distinct grid points, drawn with a seeded generator (all of them if the grid is smaller)."""
    size = grid_size(specs)
    picks = random.Random(seed).sample(range(size), min(trials, size))
    out = []
    for index in picks:
        params: Params = {}
        for spec in reversed(specs):  # decode the mixed-radix index: the last key varies fastest, as in grid()
            index, digit = divmod(index, len(spec.values))
            params[spec.key] = spec.values[digit]
        out.append({spec.key: params[spec.key] for spec in specs})
    return out


def optuna_search(specs: list[ParamSpec], trials: int, seed: int, evaluate: Evaluate) -> list[dict[str, Any]]:
    import optuna
    from optuna.trial import TrialState

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="maximize", sampler=optuna.samplers.TPESampler(seed=seed))
    rows: list[dict[str, Any]] = []
    while len(rows) < trials:
        asked = [study.ask() for _ in range(min(OPTUNA_BATCH, trials - len(rows)))]
        batch = [
            {spec.key: spec.values[trial.suggest_int(spec.key, 0, len(spec.values) - 1)] for spec in specs}
            for trial in asked
        ]
        results = evaluate(batch)
        for trial, row in zip(asked, results):
            value = row.get("objective")
            if value is None:
                study.tell(trial, state=TrialState.FAIL)
            else:
                study.tell(trial, value)
            rows.append({**row, "trial": trial.number})
    return rows


def search_rows(
    specs: list[ParamSpec], search: str, trials: int | None, seed: int, evaluate: Evaluate
) -> list[dict[str, Any]]:
    """The rows of one search over one window, in plan order."""
    if search == "grid":
        return evaluate(grid(specs))
    if search == "random":
        return evaluate(random_points(specs, trials or 0, seed))
    return optuna_search(specs, trials or 0, seed, evaluate)
