"""The backtest engine: the live strategies and filters, replayed over CSV history.

No broker, no ledger, no database writes, no console: a backtest reads a CSV
and writes three files (docs/backtest.md).  Strategies produce signals through
their own ``simulate()`` (the live code path), the same gate filters them with
the same config toggles, and ``portfolio.simulate`` fills what passes.

CLI (also ``tbot backtest``)::

    python -m tbot_core.backtest.backtest_engine --strategy=mid --start=2026-01-05 \\
        --end=2026-01-06 --data_source=CSV [--data FILE] [--config .env_bot.test] \\
        [--filters adx_filter,vix_gatekeeper | --no-filters] [--home DIR] [--plot]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING, Any

from tbot_core.backtest.arguments import add_arguments
from tbot_core.backtest.data import SymbolBars, read_bars_csv
from tbot_core.backtest.metrics import compute, daily_series
from tbot_core.backtest.outputs import daily_rows, trade_row, write_outputs
from tbot_core.backtest.portfolio import FillModel, Order, SimulationResult, simulate
from tbot_core.backtest.sources import attach_vix, load_settings, resolve_data, resolve_identity
from tbot_core.config import Settings
from tbot_core.errors import ConfigError, TbotError
from tbot_core.paths import HomePaths
from tbot_core.strategies.registry import STRATEGIES
from tbot_core.timeutil import iso_z

if TYPE_CHECKING:
    from tbot_core.backtest.filtering import SignalFilter

PROGRESS_BARS = 200_000


@dataclass
class BacktestResult:
    simulation: SimulationResult
    metrics: dict[str, object]
    blocks: dict[str, int]
    signals: int
    bars: int
    seconds: float


def run_backtest(
    bars: dict[str, SymbolBars],
    strategy_name: str,
    settings: Settings,
    *,
    signal_filter: SignalFilter | None = None,
    model: FillModel | None = None,
    progress: Callable[[str], None] | None = None,
) -> BacktestResult:
    """Signals -> filters -> fills -> metrics, for every symbol in ``bars``."""
    if strategy_name not in STRATEGIES:
        raise ConfigError(f"--strategy: unknown strategy {strategy_name!r}; expected one of {'|'.join(STRATEGIES)}")
    model = model or FillModel.from_settings(settings)
    started = time.perf_counter()
    strategy = STRATEGIES[strategy_name](settings)
    orders: list[Order] = []
    blocks: dict[str, int] = {}
    n_signals = 0
    total = sum(len(b) for b in bars.values())
    for number, (symbol, series) in enumerate(sorted(bars.items()), start=1):
        if progress and total >= PROGRESS_BARS:
            progress(f"[{number}/{len(bars)}] {symbol}: {len(series):,} bars")
        signals = strategy.fresh().simulate(series.frame(), symbol=symbol)
        n_signals += len(signals)
        passed = []
        for signal in signals:
            if signal_filter is not None:
                verdict = signal_filter.decide(signal)
                if not verdict.allow:
                    blocks[verdict.module] = blocks.get(verdict.module, 0) + 1
                    continue
            passed.append(signal)
        for signal, bar in zip(passed, series.indices_of([s.ts for s in passed])):
            orders.append(Order(symbol, bar, signal.side, signal.strategy))
    result = simulate(bars, orders, model)
    metrics = compute(result, bars, model.starting_cash, blocks)
    return BacktestResult(result, metrics, blocks, n_signals, total, time.perf_counter() - started)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="backtest_engine", description="Backtest a strategy with the live filters.")
    add_arguments(parser)
    return parser


def _date(text: str, flag: str) -> date:
    try:
        return date.fromisoformat(text)
    except ValueError:
        raise ConfigError(f"{flag}: expected a date YYYY-MM-DD, got {text[:20]!r}") from None


def run_cli(args: argparse.Namespace) -> int:
    start, end = _date(args.start, "--start"), _date(args.end, "--end")
    if end < start:
        raise ConfigError("--end: expected a date on or after --start")
    if args.data_source.upper() != "CSV":
        raise ConfigError(f"--data_source: expected CSV, got {args.data_source[:20]!r}")
    paths = HomePaths(getattr(args, "home", None))
    settings = load_settings(paths, args.config)
    identity = resolve_identity(paths)
    data_file, vix_file = resolve_data(paths, args.data)
    bars = read_bars_csv(data_file, start=start, end=end)
    if vix_file is not None:
        bars = attach_vix(bars, vix_file)
    signal_filter = None
    if not args.no_filters:
        from tbot_core.backtest.filtering import build_filter  # the gate loads only when filters run

        only = None if args.filters is None else [m.strip() for m in args.filters.split(",") if m.strip()]
        signal_filter = build_filter(settings, paths=paths, identity=identity, only=only)
    say = lambda line: print(line, file=sys.stderr, flush=True)  # noqa: E731 - a one-line local helper reads better inline
    result = run_backtest(bars, args.strategy, settings, signal_filter=signal_filter, progress=say)
    model = FillModel.from_settings(settings)
    run_info = {
        "strategy": args.strategy,
        "symbols": sorted(bars),
        "start": str(start),
        "end": str(end),
        "bars": result.bars,
        "signals": result.signals,
        "data": data_file.name,
        "filters": signal_filter.modules if signal_filter else [],
        "fill_model": model.describe(),
        "finished_utc": iso_z(),
    }
    daily = daily_series(result.simulation, float(model.starting_cash))
    folder = write_outputs(
        paths,
        identity.BOT_IDENTITY,
        rows=[trade_row(t, bars) for t in result.simulation.trades],
        run=run_info,
        metrics=result.metrics,
        days=daily_rows(daily, result.simulation, bars),
    )
    if args.plot:
        from tbot_core.backtest.plot_results import plot_folder

        plot_folder(paths, identity.BOT_IDENTITY)
    print("\n".join(summary_lines(args.strategy, result.metrics)))
    print(f"outputs: {folder}")
    rate = result.bars / result.seconds if result.seconds > 0 else float("inf")
    print(f"{result.bars} bars in {result.seconds:.2f} s ({rate:,.0f} bars/s)")
    return 0


def summary_lines(strategy: str, m: dict[str, Any]) -> list[str]:
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
        ("Sharpe (annualized)", "-" if m.get("sharpe_annualized") is None else f"{float(m['sharpe_annualized']):.2f}"),
        ("blocked by filter", blocks),
    ]
    return [f"backtest {strategy}:", *(f"  {label:<20} {value}" for label, value in rows)]


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return run_cli(args)
    except TbotError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code


if __name__ == "__main__":
    sys.exit(main())
