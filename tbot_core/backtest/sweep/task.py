"""One sweep run as a Dask task: what a worker is sent, how it gets the bars, and what it sends back.

The bars reach a worker one of two ways (docs/sweeps.md): shipped by the client (``DataBundle``,
scattered once to every worker), or read by the worker itself from a path it shares with the client
(``DataSource``, read once per worker process and cached).  A worker that reads the path checks the
file's hash against the client's, so a machine whose copy differs refuses to run rather than
reporting figures for other data.
"""

from __future__ import annotations

import hashlib
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import numpy as np

from tbot_core.backtest.data import SymbolBars, read_bars_csv
from tbot_core.backtest.reference import REFERENCE_ONLY
from tbot_core.backtest.sweep.outputs import FIGURES
from tbot_core.config import Settings
from tbot_core.errors import ConfigError
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths


def file_digest(path: Path) -> str:
    digest = hashlib.sha256()
    try:
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
    except FileNotFoundError:
        raise ConfigError(f"--data: {path.name}: file not found") from None
    return digest.hexdigest()


@dataclass(frozen=True)
class DataSource:
    """Where the bars are on a disk the client and the workers share, and what they must hash to."""

    data_file: str
    vix_file: str | None
    fundamentals_file: str | None
    start: date
    end: date
    symbols: tuple[str, ...] | None
    digest: str  # data_identity() of the files as the client read them

    def files(self) -> list[Path]:
        return [Path(p) for p in (self.data_file, self.vix_file, self.fundamentals_file) if p]


def data_identity(source: DataSource) -> str:
    """The hash of the files' bytes and the symbol choice (the window is part of each run's id)."""
    parts = [f"{Path(p).name}:{file_digest(Path(p))}" for p in map(str, source.files())]
    parts.append("symbols:" + (",".join(source.symbols) if source.symbols else "*"))
    return hashlib.sha256("\n".join(parts).encode()).hexdigest()[:16]


@dataclass
class DataBundle:
    """The bars of the whole sweep window (and the point-in-time fundamentals), as a worker uses them."""

    bars: dict[str, SymbolBars]
    fundamentals: Any
    digest: str


def load_bundle(source: DataSource) -> DataBundle:
    """Read, check and trim the data exactly as ``tbot backtest`` does (its readers, its VIX join)."""
    from tbot_core.backtest.sources import attach_vix

    bars = read_bars_csv(Path(source.data_file), start=source.start, end=source.end)
    if source.vix_file:
        bars = attach_vix(bars, Path(source.vix_file))
    if source.symbols:
        missing = [s for s in source.symbols if s not in bars]
        if missing:
            raise ConfigError(
                f"--symbols: {missing[0]} has no bars in {Path(source.data_file).name} "
                f"between {source.start} and {source.end}; expected some of {', '.join(sorted(bars))}"
            )
        bars = {s: bars[s] for s in source.symbols}
    fundamentals = None
    if source.fundamentals_file:
        from tbot_core.backtest.fundamentals import PointInTimeFundamentals

        fundamentals = PointInTimeFundamentals(Path(source.fundamentals_file))
    return DataBundle(bars, fundamentals, source.digest)


_CACHE: dict[str, DataBundle] = {}  # per worker process: the bundle read from a shared path, by digest


def bundle_on_worker(data: DataBundle | DataSource) -> DataBundle:
    if isinstance(data, DataBundle):
        return data
    cached = _CACHE.get(data.digest)
    if cached is None:
        found = data_identity(data)
        if found != data.digest:
            raise ConfigError(
                f"--data: {Path(data.data_file).name} on this worker differs from the client's copy "
                "(hash mismatch); use --ship-data scatter or give the workers the same file"
            )
        _CACHE.clear()  # one sweep's data at a time: memory stays flat across sweeps on a long-lived worker
        cached = _CACHE[data.digest] = load_bundle(data)
    return cached


@dataclass(frozen=True)
class RunTask:
    """Everything one run needs besides the bars; small, so it is cheap to send per task."""

    run_id: str
    strategy: str
    settings: Settings  # the sweep's base settings (config + filter toggles)
    overrides: tuple[tuple[str, str], ...]  # the swept keys' canonical values
    start: date
    end: date
    identity: Identity
    home: str  # the gate's HomePaths root (the offline gate reads and writes nothing there)
    filters: bool


def window(bars: dict[str, SymbolBars], start: date, end: date) -> dict[str, SymbolBars]:
    """The bars between two UTC dates (inclusive), as ``read_bars_csv(start=, end=)`` would give them."""
    lo, hi = np.datetime64(start, "D"), np.datetime64(end, "D")
    out = {}
    for symbol, series in bars.items():
        days = series.ts.astype("datetime64[D]")
        keep = (days >= lo) & (days <= hi)
        if not keep.any():
            continue
        out[symbol] = SymbolBars(
            series.symbol,
            series.ts[keep],
            series.open[keep],
            series.high[keep],
            series.low[keep],
            series.close[keep],
            series.volume[keep],
            None if series.vix is None else series.vix[keep],
        )
    return out


def execute(task: RunTask, bundle: DataBundle) -> dict[str, Any]:
    """One backtest through the backtest's own ``run_fast`` and gate; the figures as exact text."""
    from tbot_core.backtest.backtest_engine import run_fast

    started = time.perf_counter()
    settings = task.settings.with_values(dict(task.overrides))
    bars = window(bundle.bars, task.start, task.end)
    if not bars:
        raise ConfigError(f"sweep: no bars between {task.start} and {task.end}")
    signal_filter = None
    if task.filters and task.strategy in REFERENCE_ONLY:  # the fast engine runs the gate from the settings itself
        from tbot_core.backtest.filtering import build_filter

        signal_filter = build_filter(
            settings, paths=HomePaths(task.home), identity=task.identity, fundamentals=bundle.fundamentals
        )
    result = run_fast(
        bars,
        task.strategy,
        settings,
        signal_filter=signal_filter,
        identity=task.identity,
        fundamentals=bundle.fundamentals,
    )
    figures = {name: result.metrics.get(name) for name in FIGURES}
    return {
        "run_id": task.run_id,
        **figures,
        "signals": result.signals,
        "bars": result.bars,
        "seconds": round(time.perf_counter() - started, 6),
    }


def run_tasks(tasks: list[RunTask], data: DataBundle | DataSource) -> list[dict[str, Any]]:
    """The function Dask runs (module level, so workers import it by name): a chunk of runs, in order."""
    bundle = bundle_on_worker(data)
    return [execute(task, bundle) for task in tasks]
