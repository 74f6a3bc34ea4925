"""``tbot backtest sweep``: flags -> a checked ``SweepRequest`` -> ``run_sweep`` -> a short report.

Every flag is checked before a cluster starts, and a bad one is one line naming it (exit 2).
"""

from __future__ import annotations

import argparse
import sys
from typing import Any

from tbot_core.backtest.arguments import parse_date
from tbot_core.backtest.sweep.arguments import SHIP_MODES, add_sweep_arguments
from tbot_core.backtest.sweep.driver import SweepInterrupted, SweepOutcome, SweepRequest, run_sweep
from tbot_core.backtest.sweep.objective import OBJECTIVES
from tbot_core.backtest.sweep.params import parse_params
from tbot_core.backtest.sweep.plan import check_search
from tbot_core.backtest.sweep.walk_forward import parse_walk_forward
from tbot_core.errors import ConfigError
from tbot_core.strategies.registry import STRATEGIES


def build_parser(prog: str = "tbot backtest sweep") -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog=prog, description="Run many fast backtests over a grid of settings, on Dask (docs/sweeps.md)."
    )
    add_sweep_arguments(parser)
    return parser


def _chain(strategy: str, filters: list[str] | None, no_filters: bool) -> tuple[str, ...] | None:
    if no_filters:
        return ()
    return None if filters is None else ("ticker_blocklist", *filters)


def request_from_args(args: argparse.Namespace) -> SweepRequest:
    if args.strategy != "all" and args.strategy not in STRATEGIES:
        raise ConfigError(f"--strategy: expected one of all|{'|'.join(STRATEGIES)}, got {args.strategy[:20]!r}")
    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    if end < start:
        raise ConfigError("--end: expected a date on or after --start")
    check_search(args.search, args.trials)
    if args.objective not in OBJECTIVES:
        raise ConfigError(f"--objective: expected {'|'.join(OBJECTIVES)}, got {args.objective[:20]!r}")
    if args.ship_data not in SHIP_MODES:
        raise ConfigError(f"--ship-data: expected {'|'.join(SHIP_MODES)}, got {args.ship_data[:20]!r}")
    if args.workers is not None and args.workers < 1:
        raise ConfigError(f"--workers: expected a number >= 1, got {args.workers}")
    if args.workers is not None and args.scheduler:
        raise ConfigError("--workers: not with --scheduler (the cluster has its own workers)")
    filters = None if args.filters is None else [m.strip() for m in args.filters.split(",") if m.strip()]
    specs = parse_params(args.param, args.strategy, _chain(args.strategy, filters, args.no_filters))
    symbols = None
    if args.symbols is not None:
        symbols = tuple(dict.fromkeys(s.strip().upper() for s in args.symbols.split(",") if s.strip()))
        if not symbols:
            raise ConfigError("--symbols: expected comma-separated symbols, e.g. SPY,AAPL")
    return SweepRequest(
        strategy=args.strategy,
        specs=specs,
        start=start,
        end=end,
        search=args.search,
        trials=args.trials,
        seed=args.seed,
        objective=args.objective,
        walk_forward=parse_walk_forward(args.walk_forward) if args.walk_forward else None,
        workers=args.workers,
        scheduler=args.scheduler,
        ship=args.ship_data,
        resume=args.resume,
        symbols=symbols,
        data=args.data,
        config=args.config,
        filters=filters,
        no_filters=args.no_filters,
        home=getattr(args, "home", None),
    )


def _pct(value: Any) -> str:
    return "-" if value in (None, "") else f"{float(value) * 100:+.2f}%"


def _score(value: Any) -> str:
    return "-" if value is None else f"{float(value):.4g}"


def report_lines(outcome: SweepOutcome, request: SweepRequest) -> list[str]:
    rate = outcome.ran / outcome.seconds if outcome.seconds > 0 else 0.0
    lines = [
        *outcome.notices,
        f"sweep {outcome.sweep_id}: {len(outcome.rows)} runs ({outcome.ran} ran, {outcome.reused} already done) "
        f"in {outcome.seconds:.1f} s ({rate:.1f} runs/s) on the {outcome.where}, data by {outcome.ship}",
    ]
    best = outcome.best.get("best")
    if outcome.folds is not None:
        lines.append(f"walk-forward by {request.objective}: fold  in-sample  out-of-sample  (return IS / OOS)  params")
        for fold in outcome.folds:
            if "test_run_id" not in fold:
                lines.append(f"  {fold['fold']:>4}  -  no train run has a {request.objective} figure")
                continue
            params = " ".join(f"{s.key}={fold[s.key]}" for s in request.specs)
            lines.append(
                f"  {fold['fold']:>4}  {_score(fold['in_sample_objective']):>9}  "
                f"{_score(fold['out_of_sample_objective']):>13}  "
                f"({_pct(fold['in_sample_return'])} / {_pct(fold['out_of_sample_return'])})  {params}"
            )
    elif best is None:
        lines.append(f"best: none: {outcome.best.get('why_none', '')}")
    else:
        params = " ".join(f"{k}={v}" for k, v in best["params"].items())
        figures = best["figures"]
        lines.append(
            f"best by {request.objective} ({_score(best['objective'])}): {params}: return "
            f"{_pct(figures['total_return'])}, max drawdown {_pct(figures['max_drawdown'])}, "
            f"trades {figures['trades']}"
        )
    lines.append(f"outputs: {outcome.folder}")
    return lines


def run_cli(args: argparse.Namespace) -> int:
    request = request_from_args(args)
    try:
        outcome = run_sweep(request)
    except SweepInterrupted as exc:
        print(f"interrupted: {exc}", file=sys.stderr)
        return 130
    print("\n".join(report_lines(outcome, request)))
    return 0
