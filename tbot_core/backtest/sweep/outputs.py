"""The sweep's files: runs.csv and runs.parquet (one row per run), best.json, heatmap.png, walk_forward.csv.

Figures stay the exact text ``metrics.compute`` gives (money is never turned into a float on the
way); only the objective, a ratio used for ranking, is a float.  Every file is written to a temporary
name and renamed, so a reader (the console) sees the previous file or the new one, never half of one.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

from tbot_core.backtest.sweep.params import ParamSpec
from tbot_core.fsutil import atomic_write_bytes, atomic_write_text
from tbot_core.paths import HomePaths

LEAD = ("run_id", "fold", "segment", "start", "end")
# The metrics a run reports back (the rest of metrics.compute's dict stays on the worker).
FIGURES = (
    "total_return",
    "sharpe_annualized",
    "max_drawdown",
    "final_equity",
    "trades",
    "closed_trades",
    "win_rate",
    "avg_trade_pnl",
    "days",
)
FIGURE_COLUMNS = ("objective", *FIGURES, "signals", "bars", "seconds")
INTEGER_COLUMNS = {"trades", "closed_trades", "days", "signals", "bars"}
FLOAT_COLUMNS = {"objective", "seconds"}
WALK_FORWARD_COLUMNS = (
    "fold",
    "train_start",
    "train_end",
    "test_start",
    "test_end",
    "train_run_id",
    "test_run_id",
    "in_sample_objective",
    "out_of_sample_objective",
    "in_sample_return",
    "out_of_sample_return",
    "in_sample_max_drawdown",
    "out_of_sample_max_drawdown",
)
TOP_RUNS = 10


def columns(specs: list[ParamSpec]) -> list[str]:
    return [*LEAD, *(spec.key for spec in specs), *FIGURE_COLUMNS]


def _cell(value: Any) -> str:
    return "" if value is None else repr(value) if isinstance(value, float) else str(value)


def render_csv(header: list[str] | tuple[str, ...], rows: list[dict[str, Any]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(header)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in header])
    return buffer.getvalue()


def parquet_bytes(header: list[str], rows: list[dict[str, Any]]) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    arrays = {}
    for name in header:
        values = [row.get(name) for row in rows]
        if name in INTEGER_COLUMNS:
            arrays[name] = pa.array([None if v is None else int(v) for v in values], type=pa.int64())
        elif name in FLOAT_COLUMNS:
            arrays[name] = pa.array([None if v is None else float(v) for v in values], type=pa.float64())
        else:
            arrays[name] = pa.array([None if v is None else str(v) for v in values], type=pa.string())
    sink = io.BytesIO()
    pq.write_table(pa.table(arrays), sink)
    return sink.getvalue()


def heatmap_png(specs: list[ParamSpec], rows: list[dict[str, Any]], objective: str, title: str) -> bytes:
    """The objective over a two-key grid (rows: the first key, columns: the second); blank where a run has no score."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np

    first, second = specs
    grid = np.full((len(first.values), len(second.values)), np.nan)
    for row in rows:
        if row.get("objective") is not None:
            grid[first.values.index(row[first.key]), second.values.index(row[second.key])] = row["objective"]
    fig, ax = plt.subplots(figsize=(1.2 + 0.9 * len(second.values), 1.2 + 0.6 * len(first.values)))
    image = ax.imshow(grid, cmap="RdYlGn", aspect="auto")
    ax.set_xticks(range(len(second.values)), second.values, rotation=45, ha="right")
    ax.set_yticks(range(len(first.values)), first.values)
    ax.set_xlabel(second.key)
    ax.set_ylabel(first.key)
    ax.set_title(title, fontsize=9)
    if grid.size <= 400:
        for (i, j), value in np.ndenumerate(grid):
            if not np.isnan(value):
                ax.text(j, i, f"{value:.3g}", ha="center", va="center", fontsize=7)
    fig.colorbar(image, ax=ax, label=objective)
    fig.tight_layout()
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=110)
    plt.close(fig)
    return buffer.getvalue()


def write_json(path: Any, payload: dict[str, Any]) -> None:
    atomic_write_text(path, json.dumps(payload, indent=2, sort_keys=False, default=str) + "\n", durable=False)


def write_sweep_files(
    paths: HomePaths,
    identity: str,
    sweep_id: str,
    specs: list[ParamSpec],
    rows: list[dict[str, Any]],
    best: dict[str, Any],
    *,
    heatmap: tuple[str, str] | None,
    folds: list[dict[str, Any]] | None,
) -> None:
    """runs.csv/.parquet, best.json, and the heatmap (``(objective, title)``) or walk_forward.csv when asked."""
    header = columns(specs)
    atomic_write_text(paths.sweep_runs_csv(identity, sweep_id), render_csv(header, rows), durable=False)
    atomic_write_bytes(paths.sweep_runs_parquet(identity, sweep_id), parquet_bytes(header, rows), durable=False)
    write_json(paths.sweep_best(identity, sweep_id), best)
    if heatmap is not None:
        png = heatmap_png(specs, rows, *heatmap)
        atomic_write_bytes(paths.sweep_heatmap(identity, sweep_id), png, durable=False)
    if folds is not None:
        text = render_csv(WALK_FORWARD_COLUMNS, folds)
        atomic_write_text(paths.sweep_walk_forward(identity, sweep_id), text, durable=False)
