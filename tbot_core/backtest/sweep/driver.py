"""One sweep from request to files: set up like ``tbot backtest`` (home, config, filters, data), plan the runs,
run them on Dask (journal, progress), pick the best, write the outputs.

Setting up reuses the backtest's own readers (``sources``, ``filtering``, ``read_bars_csv``) so a sweep
run and a ``tbot backtest --engine fast`` run with the same settings are the same backtest.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field, replace
from datetime import date
from pathlib import Path
from typing import Any, TextIO

from tbot_core.backtest.filtering import filter_settings
from tbot_core.backtest.sources import load_settings, resolve_data, resolve_identity
from tbot_core.backtest.sweep import ids, objective, outputs
from tbot_core.backtest.sweep.journal import Journal
from tbot_core.backtest.sweep.outputs import FIGURES
from tbot_core.backtest.sweep.params import ParamSpec
from tbot_core.backtest.sweep.plan import Params, planned_runs, search_rows
from tbot_core.backtest.sweep.progress import Progress
from tbot_core.backtest.sweep.runner import Runner, dask_client
from tbot_core.backtest.sweep.task import DataSource, RunTask, data_identity, load_bundle
from tbot_core.backtest.sweep.walk_forward import Fold, folds, trading_days
from tbot_core.paths import HomePaths
from tbot_core.timeutil import iso_z


@dataclass
class SweepRequest:
    strategy: str
    specs: list[ParamSpec]
    start: date
    end: date
    search: str = "grid"
    trials: int | None = None
    seed: int = 0
    objective: str = "sharpe"
    walk_forward: tuple[int, int] | None = None
    workers: int | None = None
    scheduler: str | None = None
    ship: str = "auto"
    resume: bool = False
    symbols: tuple[str, ...] | None = None
    data: str | None = None
    config: str | None = None
    filters: list[str] | None = None
    no_filters: bool = False
    home: str | None = None


@dataclass
class SweepOutcome:
    sweep_id: str
    folder: Path
    rows: list[dict[str, Any]]
    best: dict[str, Any]
    ran: int
    reused: int
    seconds: float
    ship: str
    where: str
    folds: list[dict[str, Any]] | None = None
    notices: list[str] = field(default_factory=list)


class SweepInterrupted(Exception):
    """Ctrl-C: the finished runs are in the journal; ``--resume`` skips them."""

    def __init__(self, sweep_id: str, kept: int) -> None:
        super().__init__(f"sweep {sweep_id} interrupted: {kept} finished runs kept; rerun with --resume to skip them")
        self.kept = kept


def _row(
    params: Params, result: dict[str, Any], goal: str, fold: int | None, segment: str, start: date, end: date
) -> dict[str, Any]:
    figures = {name: result.get(name) for name in (*FIGURES, "signals", "bars", "seconds")}
    return {
        "run_id": result["run_id"],
        "fold": fold,
        "segment": segment,
        "start": str(start),
        "end": str(end),
        **params,
        "objective": objective.score(result, goal),
        **figures,
    }


def _ranked(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    scored = [(i, row) for i, row in enumerate(rows) if row.get("objective") is not None]
    return [row for _, row in sorted(scored, key=lambda pair: (-pair[1]["objective"], pair[0]))]


def _summary(row: dict[str, Any], specs: list[ParamSpec]) -> dict[str, Any]:
    return {
        "run_id": row["run_id"],
        "params": {spec.key: row[spec.key] for spec in specs},
        "objective": row["objective"],
        "figures": {name: row.get(name) for name in FIGURES},
        "window": {"start": row["start"], "end": row["end"]},
    }


class _Sweep:
    """The state one sweep carries between its searches (one per walk-forward fold)."""

    def __init__(self, request: SweepRequest, runner: Runner, base: Any, digest: str, config: str, ctx: Any) -> None:
        self.request = request
        self.runner = runner
        self.base = base
        self.digest = digest
        self.config = config
        self.ctx = ctx  # (identity, home root, filters on)

    def evaluator(self, start: date, end: date, fold: int | None, segment: str) -> Callable[..., Any]:
        req = self.request
        identity, home, filters_on = self.ctx

        def evaluate(points: list[Params]) -> list[dict[str, Any]]:
            tasks = [
                RunTask(
                    ids.run_id(req.strategy, p, self.digest, start, end, self.config),
                    req.strategy,
                    self.base,
                    tuple(sorted(p.items())),
                    start,
                    end,
                    identity,
                    home,
                    filters_on,
                )
                for p in points
            ]
            results = self.runner.evaluate(tasks)
            return [_row(p, r, req.objective, fold, segment, start, end) for p, r in zip(points, results)]

        return evaluate

    def search(self, start: date, end: date, fold: int | None, segment: str) -> list[dict[str, Any]]:
        req = self.request
        return search_rows(req.specs, req.search, req.trials, req.seed, self.evaluator(start, end, fold, segment))

    def walk_forward(self, plan: list[Fold]) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        rows: list[dict[str, Any]] = []
        table: list[dict[str, Any]] = []
        for fold in plan:
            train = self.search(fold.train_start, fold.train_end, fold.number, "train")
            rows.extend(train)
            pick = objective.best(train)
            line: dict[str, Any] = {
                "fold": fold.number,
                "train_start": str(fold.train_start),
                "train_end": str(fold.train_end),
                "test_start": str(fold.test_start),
                "test_end": str(fold.test_end),
            }
            if pick is None:  # no train run has the objective: nothing is picked, nothing is tested
                self.runner.progress.tick(ran=False)
                table.append(line)
                continue
            params = {spec.key: pick[spec.key] for spec in self.request.specs}
            [test] = self.evaluator(fold.test_start, fold.test_end, fold.number, "test")([params])
            rows.append(test)
            table.append(
                {
                    **line,
                    **params,
                    "train_run_id": pick["run_id"],
                    "test_run_id": test["run_id"],
                    "in_sample_objective": pick["objective"],
                    "out_of_sample_objective": test["objective"],
                    "in_sample_return": pick["total_return"],
                    "out_of_sample_return": test["total_return"],
                    "in_sample_max_drawdown": pick["max_drawdown"],
                    "out_of_sample_max_drawdown": test["max_drawdown"],
                }
            )
        return rows, table


def _no_best_reason(goal: str) -> str:
    if goal == "sharpe":
        return "no run has a Sharpe figure (it needs 20 trading days in the window); try --objective return"
    if goal == "calmar":
        return "no run has a Calmar figure (it needs a drawdown)"
    return "no run has a total return"


def run_sweep(
    request: SweepRequest,
    *,
    observer: Callable[[dict[str, Any]], None] | None = None,
    stream: TextIO | None = None,
    client_factory: Callable[[int | None, str | None], AbstractContextManager[Any]] = dask_client,
) -> SweepOutcome:
    """Run (or resume) one sweep; ``observer`` sees each finished run's figures as they arrive."""
    req = request
    paths = HomePaths(req.home)
    settings = load_settings(paths, req.config)
    identity = resolve_identity(paths)
    data_file, vix_file = resolve_data(paths, req.data)
    fundamentals = paths.fundamentals_history if paths.fundamentals_history.exists() else None
    notices = []
    if (
        fundamentals is None
        and filter_settings(
            settings, only=req.filters, no_filters=req.no_filters, fundamentals=True
        ).fundamental_guard_enabled
    ):
        notices.append(
            "notice: data/market/fundamentals.csv not found: finnhub_fundamental_guard is off for this sweep"
        )
    base = filter_settings(settings, only=req.filters, no_filters=req.no_filters, fundamentals=fundamentals is not None)
    source = DataSource(
        str(data_file.resolve()),
        str(vix_file.resolve()) if vix_file else None,
        str(fundamentals.resolve()) if fundamentals else None,
        req.start,
        req.end,
        req.symbols,
        "",
    )
    source = replace(source, digest=data_identity(source))
    bundle = load_bundle(source)  # checks the data and the symbols here, before any worker starts
    plan = folds(trading_days(bundle.bars), *req.walk_forward) if req.walk_forward else None
    config = ids.config_fingerprint(base)
    definition = {
        "params": {spec.key: list(spec.values) for spec in req.specs},
        "search": req.search,
        "trials": req.trials,
        "seed": req.seed,
        "objective": req.objective,
        "walk_forward": req.walk_forward,
        "start": req.start,
        "end": req.end,
        "data": source.digest,
        "config": config,
    }
    sweep_id = ids.sweep_id(req.strategy, definition)
    name = identity.BOT_IDENTITY
    folder = paths.sweep_dir(name, sweep_id)
    folder.mkdir(parents=True, exist_ok=True)
    journal = Journal(paths.sweep_journal(name, sweep_id))
    done = journal.resume() if req.resume else {}
    if not req.resume:
        journal.reset()
    per_search = planned_runs(req.specs, req.search, req.trials)
    total = per_search if plan is None else (per_search + 1) * len(plan)
    ship = req.ship if req.ship != "auto" else ("scatter" if req.scheduler else "path")
    where = f"scheduler {req.scheduler}" if req.scheduler else "local cluster"
    meta = {
        "sweep_id": sweep_id,
        "strategy": req.strategy,
        "params": [{"key": spec.key, "values": list(spec.values)} for spec in req.specs],
        "search": req.search,
        "trials": req.trials,
        "seed": req.seed,
        "objective": req.objective,
        "walk_forward": "/".join(map(str, req.walk_forward)) if req.walk_forward else None,
        "start": str(req.start),
        "end": str(req.end),
        "symbols": sorted(bundle.bars),
        "data": Path(source.data_file).name,
        "data_digest": source.digest,
        "config": config,
        "ship_data": ship,
        "where": where,
        "runs_planned": total,
        "started_utc": iso_z(),
        "status": "running",
    }
    outputs.write_json(paths.sweep_meta(name, sweep_id), meta)
    progress = Progress(total, stream=stream)
    started = time.perf_counter()
    table: list[dict[str, Any]] | None = None
    try:
        with client_factory(req.workers, req.scheduler) as client:
            started = progress.started = time.perf_counter()  # runs/s of the runs, not of the cluster's start
            runner = Runner(client, source, ship, journal, done, progress, observer, bundle=bundle)
            sweep = _Sweep(req, runner, base, source.digest, config, (identity, str(paths.root), not req.no_filters))
            if plan is None:
                rows = sweep.search(req.start, req.end, None, "all")
            else:
                rows, table = sweep.walk_forward(plan)
            ran, reused = runner.ran, runner.reused
    except KeyboardInterrupt:
        kept = len(journal.read())
        outputs.write_json(paths.sweep_meta(name, sweep_id), {**meta, "status": "interrupted", "runs_done": kept})
        raise SweepInterrupted(sweep_id, kept) from None
    except BaseException:
        outputs.write_json(paths.sweep_meta(name, sweep_id), {**meta, "status": "failed"})
        raise
    finally:
        progress.finish()
    seconds = time.perf_counter() - started
    scored = _ranked(rows if table is None else [r for r in rows if r["segment"] == "train"])
    best: dict[str, Any] = {
        "sweep_id": sweep_id,
        "strategy": req.strategy,
        "objective": req.objective,
        "search": req.search,
        "best": _summary(scored[0], req.specs) if scored and table is None else None,
        "top": [_summary(row, req.specs) for row in scored[: outputs.TOP_RUNS]] if table is None else [],
    }
    if table is not None:
        picked = [line for line in table if "test_run_id" in line]
        best["walk_forward"] = table
        best["best"] = (
            {"fold": picked[-1]["fold"], "params": {s.key: picked[-1][s.key] for s in req.specs}} if picked else None
        )
    if best["best"] is None:
        best["why_none"] = _no_best_reason(req.objective)
    two_d = len(req.specs) == 2 and req.search == "grid" and table is None
    heatmap = (req.objective, f"{req.strategy} sweep {sweep_id}: {req.objective}") if two_d else None
    outputs.write_sweep_files(paths, name, sweep_id, req.specs, rows, best, heatmap=heatmap, folds=table)
    finished = {**meta, "status": "finished", "runs_done": len(rows), "finished_utc": iso_z()}
    outputs.write_json(paths.sweep_meta(name, sweep_id), finished)
    return SweepOutcome(sweep_id, folder, rows, best, ran, reused, seconds, ship, where, table, notices)
