"""Sweep scale-out: a 200-run sweep on Dask with 1 and with 2 worker processes, next to the same runs in-process.

The runs are the sweep's own tasks (``RunTask`` through ``Runner``, journal and all) over synthetic
session minute bars (``--days`` weekdays x ``--symbols`` symbols, written to a CSV and read back with
the backtest's reader): ``--strategy`` (default mid, its filters on) over a 20 x 10 grid of two keys it
reads (risk per trade x paper slippage; sma_cross: position fraction x backtest slippage), 200
distinct backtests.  Workers are warmed up (imports, the scattered bars) before the clock starts; each
configuration runs the same 200 tasks.

Printed:
- runs/s with 1 worker and with 2 workers, and their ratio (goal >= 1.8x);
- per-task overhead: with 1 worker, (sweep wall - the sum of the runs' own times) / that sum, i.e. what
  a run costs as a Dask task (submit, schedule, ship the figures back, journal line) beyond the run
  itself (goal <= 5%); and, for reference, the 1-worker wall against the same runs in-process;
- each worker's resident memory at the start, middle and end of the 2-worker sweep (goal: flat).
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core.backtest.filtering import filter_settings
from tbot_core.backtest.sweep import ids
from tbot_core.backtest.sweep.journal import Journal
from tbot_core.backtest.sweep.params import grid, parse_param
from tbot_core.backtest.sweep.progress import Progress
from tbot_core.backtest.sweep.runner import Runner, dask_client
from tbot_core.backtest.sweep.task import DataSource, RunTask, data_identity, execute, load_bundle
from tbot_core.config import Settings
from tbot_core.identity import Identity

START = date(2026, 2, 2)
IDENTITY = Identity("TBOT_BENCH", "US", "PAPER")


def _rss(dask_worker: Any = None) -> int:
    import psutil

    return int(psutil.Process().memory_info().rss)


def _grid(strategy: str, runs: int) -> list[dict[str, str]]:
    first = max(1, runs // 10)
    if strategy == "sma_cross":
        keys = (f"BACKTEST_POSITION_FRACTION=0.01:{first * 0.01:.2f}:0.01", "BACKTEST_SLIPPAGE_BPS=0:9:1")
    else:
        keys = (f"MAX_RISK_PER_TRADE=0.005:{first * 0.005:.3f}:0.005", "PAPER_SLIPPAGE_BPS=0:9:1")
    return grid([parse_param(text, strategy) for text in keys])[:runs]


def _cpu(dask_worker: Any = None) -> float:
    import psutil

    times = psutil.Process().cpu_times()
    return float(times.user + times.system)


def _tasks(
    strategy: str, points: list[dict[str, str]], base: Settings, digest: str, home: str, end: date
) -> list[RunTask]:
    config = ids.config_fingerprint(base)
    return [
        RunTask(
            ids.run_id(strategy, p, digest, START, end, config),
            strategy,
            base,
            tuple(sorted(p.items())),
            START,
            end,
            IDENTITY,
            home,
            True,
        )
        for p in points
    ]


def synthetic_csv(path: Path, days: int, symbols: int, seed: int = 7) -> None:
    """Weekday sessions of minute bars (14:30-20:59 UTC), a random walk per symbol, as a backtest CSV."""
    rng = np.random.default_rng(seed)
    dates = np.busday_offset(np.datetime64(START, "D"), np.arange(days), roll="forward")
    minutes = (dates[:, None] + np.timedelta64(870, "m") + np.arange(390) * np.timedelta64(1, "m")).ravel()
    frames = []
    for number in range(symbols):
        close = (100 + 20 * number) * np.exp(np.cumsum(rng.normal(0, 0.0009, len(minutes))))
        open_ = np.r_[close[0], close[:-1]]
        high = np.maximum(open_, close) * (1 + np.abs(rng.normal(0, 0.0004, len(minutes))))
        low = np.minimum(open_, close) * (1 - np.abs(rng.normal(0, 0.0004, len(minutes))))
        frames.append(
            pd.DataFrame(
                {
                    "timestamp_utc": np.datetime_as_string(minutes.astype("datetime64[s]"), unit="s"),
                    "symbol": f"SYN{number}",
                    "open": open_.round(2),
                    "high": high.round(2),
                    "low": low.round(2),
                    "close": close.round(2),
                    "volume": rng.integers(1_000, 50_000, len(minutes)),
                }
            )
        )
    table = pd.concat(frames)
    for column in ("open", "close"):  # rounding must keep high/low around open and close
        table["high"] = np.maximum(table["high"], table[column])
        table["low"] = np.minimum(table["low"], table[column])
    table["timestamp_utc"] += "Z"
    table.sort_values(["timestamp_utc", "symbol"]).to_csv(path, index=False)


def _on_cluster(
    workers: int, source: DataSource, tasks: list[RunTask], warmup: list[RunTask], scratch: Path
) -> tuple[float, list[float], dict[str, list[int]], float]:
    """Wall seconds of the sweep, each run's own seconds, each worker's RSS at start/middle/end, and the
    CPU seconds the workers used during the sweep (how many cores' worth the machine gave them)."""
    with dask_client(workers, None) as client:
        devnull = open(os.devnull, "w")  # noqa: SIM115 - the progress line is not part of the figures
        journal = Journal(scratch / f"journal-{workers}.jsonl")
        runner = Runner(client, source, "scatter", journal, {}, Progress(len(tasks), stream=devnull), bundle=None)
        runner.evaluate(warmup)  # imports and the scattered bars on every worker, off the clock
        memory: dict[str, list[int]] = {w: [m] for w, m in client.run(_rss).items()}
        middle = len(tasks) // 2

        def observe(row: dict[str, Any]) -> None:
            if runner.ran - len(warmup) == middle:
                for w, m in client.run(_rss).items():
                    memory[w].append(m)

        runner.observer = observe
        cpu_before = sum(client.run(_cpu).values())
        started = time.perf_counter()
        rows = runner.evaluate(tasks)
        wall = time.perf_counter() - started
        cpu = sum(client.run(_cpu).values()) - cpu_before
        for w, m in client.run(_rss).items():
            memory[w].append(m)
        devnull.close()
    return wall, [float(r["seconds"]) for r in rows], memory, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument("--strategy", default="mid")
    parser.add_argument("--days", type=int, default=20, help="weekdays of synthetic minute bars")
    parser.add_argument("--symbols", type=int, default=4)
    args = parser.parse_args()

    base = filter_settings(Settings(), only=None, no_filters=False, fundamentals=False)
    with tempfile.TemporaryDirectory() as scratch_dir:
        scratch = Path(scratch_dir)
        data = scratch / "bars.csv"
        synthetic_csv(data, args.days, args.symbols)
        end = np.busday_offset(np.datetime64(START, "D"), args.days - 1, roll="forward").astype(object)
        source = DataSource(str(data), None, None, START, end, None, "")
        source = DataSource(**{**source.__dict__, "digest": data_identity(source)})
        bundle = load_bundle(source)
        home = str(scratch / "home")
        tasks = _tasks(args.strategy, _grid(args.strategy, args.runs), base, source.digest, home, end)
        warm = base.with_values({"PAPER_COMMISSION_MIN": "0.5", "BACKTEST_COMMISSION_PCT": "0.0001"})
        warmup = _tasks(args.strategy, _grid(args.strategy, 4), warm, "warm", home, end)
        bars = sum(len(b) for b in bundle.bars.values())
        print(f"load average at the start: {' / '.join(f'{v:.1f}' for v in os.getloadavg())}")
        print(
            f"sweep bench: {len(tasks)} runs of {args.strategy} over {bars:,} synthetic minute bars "
            f"({len(bundle.bars)} symbols, {args.days} days)"
        )

        execute(warmup[0], bundle)
        started = time.perf_counter()
        for task in tasks:
            execute(task, bundle)
        in_process = time.perf_counter() - started
        print(
            f"  in-process (no Dask):  {len(tasks) / in_process:7.1f} runs/s  ({in_process / len(tasks) * 1000:.1f} ms/run)"
        )

        wall1, seconds1, _, cpu1 = _on_cluster(1, source, tasks, warmup, scratch)
        wall2, seconds2, memory, cpu2 = _on_cluster(2, source, tasks, warmup, scratch)
    rate1, rate2 = len(tasks) / wall1, len(tasks) / wall2
    print(
        f"  Dask, 1 worker:        {rate1:7.1f} runs/s  (worker CPU {cpu1 / wall1:.2f} cores' worth of the wall time)"
    )
    print(
        f"  Dask, 2 workers:       {rate2:7.1f} runs/s  (workers' CPU {cpu2 / wall2:.2f} cores' worth; "
        f"runs in progress on average {sum(seconds2) / wall2:.2f})"
    )
    ratio = rate2 / rate1
    print(f"  2 workers / 1 worker:  {ratio:.2f}x (goal >= 1.8x) {'OK' if ratio >= 1.8 else 'MISSED'}")
    stream = (wall1 - sum(seconds1)) / sum(seconds1) * 100
    versus = (wall1 - in_process) / in_process * 100
    print(
        f"  per-task overhead:     {stream:+.1f}% of a run (1 worker: wall vs the runs' own time; goal <= 5%) "
        f"{'OK' if stream <= 5 else 'MISSED'}"
    )
    print(f"  1 worker vs in-process: {versus:+.1f}% (the same runs in this process, no Dask; moves with load)")
    for number, rss in enumerate((memory[w] for w in sorted(memory)), start=1):
        growth = (rss[-1] - rss[0]) / rss[0] * 100
        marks = " / ".join(f"{m / 2**20:.0f}" for m in rss)
        print(f"  worker {number} RSS start/middle/end: {marks} MiB ({growth:+.1f}%)")
    load = " / ".join(f"{v:.1f}" for v in os.getloadavg())
    print(f"  ({os.cpu_count()} cores here; load average at the end {load}: other work on the machine takes cores too)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
