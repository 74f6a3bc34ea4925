"""The backtest: the core's strategies, gate, risk bot, kill switch and paper fills over CSV history.

Two engines give the same fills (tests/tbot_core/backtest/test_fast_engine_parity.py):
``--engine fast`` (default) decides at array speed and walks only the bars
where a strategy can act (``fast/``); ``--engine bar`` runs the core's
``Engine`` itself bar by bar in a scratch home (``live.py``; ``live`` is its
old name and still accepted).  ``sma_cross``, which the core does not trade
(the risk bot has no allocation for it), runs on the reference path:
``simulate()``, the gate, ``portfolio.simulate``'s next-open fill model.
Every engine writes only its outputs into the operator's home (docs/backtest.md).

CLI (also ``tbot backtest``)::

    python -m tbot_core.backtest.backtest_engine --strategy=all --start=2026-01-05 \\
        --end=2026-01-06 --data_source=CSV [--engine fast|bar] [--data FILE] [--config .env_bot.test] \\
        [--filters adx_filter,vix_gatekeeper | --no-filters] [--home DIR] [--plot]
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from tbot_core.backtest.arguments import ENGINE_ALIASES, ENGINES, add_arguments, parse_date
from tbot_core.backtest.data import SymbolBars, read_bars_csv
from tbot_core.backtest.filtering import filter_settings
from tbot_core.backtest.metrics import MIN_DAYS_ANNUALIZED, compute, daily_series
from tbot_core.backtest.outputs import broker_fill_rows, daily_rows, trade_fill_rows, trade_row, write_outputs
from tbot_core.backtest.portfolio import FillModel, SimulationResult
from tbot_core.backtest.reference import REFERENCE_ONLY, run_reference
from tbot_core.backtest.run_info import BacktestResult
from tbot_core.backtest.sources import attach_vix, load_settings, resolve_data, resolve_identity
from tbot_core.config import Settings
from tbot_core.errors import ConfigError, TbotError
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths
from tbot_core.strategies.registry import STRATEGIES
from tbot_core.timeutil import iso_z

if TYPE_CHECKING:
    from tbot_core.backtest.filtering import SignalFilter
    from tbot_core.backtest.fundamentals import PointInTimeFundamentals
    from tbot_core.backtest.run_info import EngineRun


def run_fast(
    bars: dict[str, SymbolBars],
    strategy_name: str,
    settings: Settings,
    *,
    signal_filter: SignalFilter | None = None,
    model: FillModel | None = None,
    progress: Callable[[str], None] | None = None,
    identity: Identity | None = None,
    fundamentals: PointInTimeFundamentals | None = None,
) -> BacktestResult:
    """A backtest as a pure function of its inputs (deterministic, writes nothing): for sweeps and tests.

    ``strategy_name`` open|mid|close|all runs the fast engine: the bar engine's fills with
    ``settings`` (their filter toggles, ``PAPER_*`` fills, risk and kill-switch limits), the
    fundamental guard reading ``fundamentals`` (off without them; a ``GateFilter`` passed as
    ``signal_filter`` lends its point-in-time source, the gate itself is built from ``settings``).
    ``sma_cross``, or any one strategy with a ``model``, runs the reference path: ``simulate()``,
    ``signal_filter``, and the next-open ``FillModel`` (``BACKTEST_*``).  ``metrics`` holds what
    ``metrics.compute`` reports; ``run`` (fast engine only) the counts and fills.
    """
    if strategy_name != "all" and strategy_name not in STRATEGIES:
        raise ConfigError(f"--strategy: unknown strategy {strategy_name!r}; expected all|{'|'.join(STRATEGIES)}")
    if model is not None or strategy_name in REFERENCE_ONLY:
        if strategy_name == "all":
            raise ConfigError("--strategy=all: the reference fill model runs one strategy; drop the model")
        return run_reference(bars, strategy_name, settings, signal_filter=signal_filter, model=model, progress=progress)
    from tbot_core.backtest.fast.run import run_events

    if fundamentals is None and signal_filter is not None:
        fundamentals = getattr(signal_filter, "fundamentals", None)
    run = run_events(bars, strategy_name, settings, identity=identity, fundamentals=fundamentals, progress=progress)
    blocks = merged_blocks(run.blocks)
    metrics = compute(run.simulation, bars, run.starting_cash, blocks)
    return BacktestResult(run.simulation, metrics, blocks, sum(run.signals.values()), run.bars, run.seconds, run)


def merged_blocks(per_strategy: dict[str, dict[str, int]]) -> dict[str, int]:
    blocks: dict[str, int] = {}
    for per in per_strategy.values():
        for module, n in per.items():
            blocks[module] = blocks.get(module, 0) + n
    return blocks


@dataclass
class Outcome:
    """What either engine hands the output writer."""

    simulation: SimulationResult
    starting_cash: Decimal
    blocks: dict[str, int]
    run: dict[str, Any]
    bars: int
    seconds: float
    fills: list[dict[str, Any]]  # one row per fill (fill_history_backtest.csv)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backtest_engine", description="Backtest the core's strategies and filters.")
    add_arguments(parser)
    return parser


def _say(line: str) -> None:
    print(line, file=sys.stderr, flush=True)


def _fundamentals(paths: HomePaths, settings: Settings, only: list[str] | None, no_filters: bool) -> Any:
    """The point-in-time file if the data folder has one; else None, with a notice if the guard would have run."""
    if paths.fundamentals_history.exists():
        from tbot_core.backtest.fundamentals import PointInTimeFundamentals

        return PointInTimeFundamentals(paths.fundamentals_history)
    wanted = filter_settings(settings, only=only, no_filters=no_filters, fundamentals=True)
    if wanted.fundamental_guard_enabled:
        _say(
            "notice: data/market/fundamentals.csv not found: finnhub_fundamental_guard is off for this backtest "
            "(a backtest never calls Finnhub)"
        )
    return None


def _engine_outcome(run: EngineRun, engine: str) -> Outcome:
    info = {
        "engine": engine,
        "strategies": run.strategies,
        "signals": sum(run.signals.values()),
        "signals_per_strategy": run.signals,
        "orders_per_strategy": run.orders,
        "blocks_per_strategy": run.blocks,
        "flat_sells_ignored": run.flat_sells,
        "filters": run.filters,
        "kill_switch": run.kill_switch,
        "fill_model": run.fill_model,
    }
    return Outcome(
        run.simulation,
        run.starting_cash,
        merged_blocks(run.blocks),
        info,
        run.bars,
        run.seconds,
        broker_fill_rows(run.fills),
    )


def _run_bar(
    args: argparse.Namespace, bars: dict[str, SymbolBars], settings: Settings, identity: Identity, fundamentals: Any
) -> Outcome:
    from tbot_core.backtest.live import run_live
    from tbot_core.backtest.scratch import live_settings

    run = run_live(bars, live_settings(settings, args.strategy), identity, fundamentals=fundamentals)
    return _engine_outcome(run, "bar")


def _run_fast(
    args: argparse.Namespace,
    paths: HomePaths,
    bars: dict[str, SymbolBars],
    settings: Settings,
    identity: Identity,
    fundamentals: PointInTimeFundamentals | None,
) -> Outcome:
    if args.strategy != "all" and args.strategy not in STRATEGIES:
        raise ConfigError(f"--strategy: unknown strategy {args.strategy!r}; expected all|{'|'.join(STRATEGIES)}")
    if args.strategy in REFERENCE_ONLY:
        return _run_reference(args, paths, bars, settings, identity, fundamentals)
    from tbot_core.backtest.fast.run import run_events

    run = run_events(bars, args.strategy, settings, identity=identity, fundamentals=fundamentals, progress=_say)
    return _engine_outcome(run, "fast")


def _run_reference(
    args: argparse.Namespace,
    paths: HomePaths,
    bars: dict[str, SymbolBars],
    settings: Settings,
    identity: Identity,
    fundamentals: PointInTimeFundamentals | None,
) -> Outcome:
    signal_filter = None
    if not args.no_filters:
        from tbot_core.backtest.filtering import build_filter  # the gate loads only when filters run

        signal_filter = build_filter(settings, paths=paths, identity=identity, fundamentals=fundamentals)
    result = run_reference(bars, args.strategy, settings, signal_filter=signal_filter, progress=_say)
    model = FillModel.from_settings(settings)
    info = {
        "engine": "fast (reference fill model)",
        "strategies": [args.strategy],
        "signals": result.signals,
        "filters": signal_filter.chains([args.strategy]) if signal_filter else {args.strategy: []},
        "fill_model": model.describe(),
    }
    return Outcome(
        result.simulation,
        model.starting_cash,
        result.blocks,
        info,
        result.bars,
        result.seconds,
        trade_fill_rows(result.simulation.trades, bars),
    )


def run_cli(args: argparse.Namespace) -> int:
    start, end = parse_date(args.start, "--start"), parse_date(args.end, "--end")
    if end < start:
        raise ConfigError("--end: expected a date on or after --start")
    if args.data_source.upper() != "CSV":
        raise ConfigError(f"--data_source: expected CSV, got {args.data_source[:20]!r}")
    engine = getattr(args, "engine", "fast")
    if engine not in ENGINES:
        raise ConfigError(f"--engine: expected fast|bar (live: the old name of bar), got {str(engine)[:20]!r}")
    engine = ENGINE_ALIASES.get(engine, engine)
    paths = HomePaths(getattr(args, "home", None))
    settings = load_settings(paths, args.config)
    identity = resolve_identity(paths)
    data_file, vix_file = resolve_data(paths, args.data)
    bars = read_bars_csv(data_file, start=start, end=end)
    if vix_file is not None:
        bars = attach_vix(bars, vix_file)
    only = None if args.filters is None else [m.strip() for m in args.filters.split(",") if m.strip()]
    fundamentals = _fundamentals(paths, settings, only, args.no_filters)
    settings = filter_settings(settings, only=only, no_filters=args.no_filters, fundamentals=fundamentals is not None)
    if engine == "bar":
        outcome = _run_bar(args, bars, settings, identity, fundamentals)
    else:
        outcome = _run_fast(args, paths, bars, settings, identity, fundamentals)
    metrics = compute(outcome.simulation, bars, outcome.starting_cash, outcome.blocks)
    run_info = {
        "strategy": args.strategy,
        **outcome.run,
        "symbols": sorted(bars),
        "start": str(start),
        "end": str(end),
        "bars": outcome.bars,
        "data": data_file.name,
        "fundamentals": "data/market/fundamentals.csv (point in time)"
        if fundamentals is not None
        else "none: finnhub_fundamental_guard off",
        "finished_utc": iso_z(),
    }
    daily = daily_series(outcome.simulation, float(outcome.starting_cash))
    folder = write_outputs(
        paths,
        identity.BOT_IDENTITY,
        rows=[trade_row(t, bars) for t in outcome.simulation.trades],
        fills=outcome.fills,
        run=run_info,
        metrics=metrics,
        days=daily_rows(daily, outcome.simulation, bars),
    )
    if args.plot:
        from tbot_core.backtest.plot_results import plot_folder

        plot_folder(paths, identity.BOT_IDENTITY)
    print("\n".join(summary_lines(args.strategy, metrics, engine=engine)))
    print(f"outputs: {folder}")
    rate = outcome.bars / outcome.seconds if outcome.seconds > 0 else float("inf")
    print(f"{outcome.bars} bars in {outcome.seconds:.2f} s ({rate:,.0f} bars/s)")
    return 0


def sharpe_text(m: dict[str, Any]) -> str:
    """The Sharpe cell: the figure, or why there is none (too few days, or no variation)."""
    if m.get("sharpe_annualized") is not None:
        return f"{float(m['sharpe_annualized']):.2f}"
    days = m.get("days")
    if isinstance(days, int) and days < MIN_DAYS_ANNUALIZED:
        return f"n/a ({days} days < {MIN_DAYS_ANNUALIZED})"
    return "-"


def summary_lines(strategy: str, m: dict[str, Any], *, engine: str = "") -> list[str]:
    """A short table for the operator: percentages as percentages, money as money (metrics.json keeps the raw figures)."""

    def pct(value: str | float | None, sign: str = "") -> str:
        return "-" if value is None else f"{float(value) * 100:{sign}.2f}%"

    def money(value: str | float | None) -> str:
        return "-" if value is None else f"{float(value):,.2f}"

    blocks = ", ".join(f"{name} {n}" for name, n in (m.get("blocks_per_filter") or {}).items()) or "none"
    rows = [
        ("trades", f"{m['trades']} ({m.get('closed_trades', 0)} closed)"),
        ("final equity", money(m.get("final_equity"))),
        ("total return", pct(m.get("total_return"), "+")),
        ("win rate", pct(m.get("win_rate"))),
        ("avg trade PnL", money(m.get("avg_trade_pnl"))),
        ("max drawdown", pct(m.get("max_drawdown"))),
        ("Sharpe (annualized)", sharpe_text(m)),
        ("blocked by filter", blocks),
    ]
    title = f"backtest {strategy}" + (f" ({engine} engine)" if engine else "")
    return [f"{title}:", *(f"  {label:<20} {value}" for label, value in rows)]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_cli(args)
    except TbotError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
