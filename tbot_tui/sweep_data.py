"""Reading parameter sweeps (``tbot backtest sweep``) for the Backtest screen, from their files only.

The console never imports the backtest: it reads what a sweep wrote under the home's output folder
(``sweep.json``, ``runs.csv``, ``walk_forward.csv``) with the csv and json modules.  A sweep still
running (or interrupted) has no runs.csv yet and is listed with its status; a malformed file is one
line naming the file, never a crash.
"""

from __future__ import annotations

import csv
import json
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tbot_core.paths import HomePaths

TOP_RUNS = 10


@dataclass(frozen=True)
class SweepListing:
    sweep_id: str
    strategy: str = ""
    status: str = ""
    search: str = ""
    objective: str = ""
    keys: tuple[str, ...] = ()
    runs_done: int | None = None
    runs_planned: int | None = None
    started: str = ""
    walk_forward: str = ""
    problem: str = ""


@dataclass(frozen=True)
class Heatmap:
    """The objective over a two-key grid: ``cells[i][j]`` for row value i and column value j (None: no score)."""

    row_key: str
    col_key: str
    row_values: tuple[str, ...]
    col_values: tuple[str, ...]
    cells: tuple[tuple[float | None, ...], ...]


@dataclass(frozen=True)
class SweepDetail:
    listing: SweepListing
    heatmap: Heatmap | None = None
    top: list[dict[str, str]] = field(default_factory=list)  # best runs first (runs.csv rows)
    folds: list[dict[str, str]] = field(default_factory=list)  # walk_forward.csv rows
    problem: str = ""


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def read_listing(paths: HomePaths, identity: str, sweep_id: str) -> SweepListing:
    path = paths.sweep_meta(identity, sweep_id)
    try:
        meta = json.loads(path.read_bytes())
    except FileNotFoundError:
        return SweepListing(sweep_id, problem="sweep.json missing")
    except (OSError, ValueError):
        return SweepListing(sweep_id, problem="sweep.json: not readable JSON")
    if not isinstance(meta, dict):
        return SweepListing(sweep_id, problem="sweep.json: expected an object")
    params = meta.get("params")
    keys = tuple(str(p.get("key", "")) for p in (params if isinstance(params, list) else []) if isinstance(p, dict))
    return SweepListing(
        sweep_id,
        strategy=str(meta.get("strategy", "")),
        status=str(meta.get("status", "")),
        search=str(meta.get("search", "")),
        objective=str(meta.get("objective", "")),
        keys=keys,
        runs_done=_int(meta.get("runs_done")),
        runs_planned=_int(meta.get("runs_planned")),
        started=str(meta.get("started_utc", "")),
        walk_forward=str(meta.get("walk_forward") or ""),
    )


def list_sweeps(paths: HomePaths, identity: str) -> list[SweepListing]:
    """Every sweep of ``identity``, newest first."""
    listings = [read_listing(paths, identity, sweep_id) for sweep_id in paths.sweep_ids(identity)]
    return sorted(listings, key=lambda s: (s.started, s.sweep_id), reverse=True)


def _read_csv(path: Path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def _score(row: dict[str, str]) -> float | None:
    text = row.get("objective", "")
    try:
        value = float(text)
    except ValueError:
        return None
    return value if math.isfinite(value) else None


def _grid_values(paths: HomePaths, identity: str, sweep_id: str) -> list[tuple[str, tuple[str, ...]]]:
    meta = json.loads(paths.sweep_meta(identity, sweep_id).read_bytes())
    return [(str(p["key"]), tuple(str(v) for v in p["values"])) for p in meta.get("params", [])]


def heatmap(rows: list[dict[str, str]], grid: list[tuple[str, tuple[str, ...]]]) -> Heatmap | None:
    if len(grid) != 2:
        return None
    (row_key, row_values), (col_key, col_values) = grid
    cells: list[list[float | None]] = [[None for _ in col_values] for _ in row_values]
    for row in rows:
        if row.get(row_key) in row_values and row.get(col_key) in col_values:
            cells[row_values.index(row[row_key])][col_values.index(row[col_key])] = _score(row)
    return Heatmap(row_key, col_key, row_values, col_values, tuple(tuple(line) for line in cells))


def load_sweep(paths: HomePaths, identity: str, sweep_id: str) -> SweepDetail:
    listing = read_listing(paths, identity, sweep_id)
    if listing.problem:
        return SweepDetail(listing, problem=f"{sweep_id}: {listing.problem}")
    runs_file = paths.sweep_runs_csv(identity, sweep_id)
    try:
        rows = _read_csv(runs_file)
        folds = _read_csv(paths.sweep_walk_forward(identity, sweep_id)) if listing.walk_forward else []
        grid = _grid_values(paths, identity, sweep_id)
    except FileNotFoundError:
        done = f"{listing.runs_done} of {listing.runs_planned}" if listing.runs_done is not None else "no"
        return SweepDetail(listing, problem=f"{sweep_id}: {listing.status or 'unfinished'}, {done} runs finished")
    except (OSError, ValueError, KeyError, TypeError, csv.Error):
        return SweepDetail(listing, problem=f"{sweep_id}: runs.csv or sweep.json is not readable")
    scored = [(i, r) for i, r in enumerate(rows) if _score(r) is not None and r.get("segment") != "test"]
    top = [r for _, r in sorted(scored, key=lambda pair: (-(_score(pair[1]) or 0.0), pair[0]))][:TOP_RUNS]
    plain_grid = listing.search == "grid" and not listing.walk_forward
    return SweepDetail(listing, heatmap(rows, grid) if plain_grid else None, top, folds)
