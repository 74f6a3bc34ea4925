"""``tbot backtest sweep``: many fast backtests over a grid of settings, run as Dask tasks (docs/sweeps.md).

params (``--param`` parsing and validation) -> plan (grid, random, optuna) -> runner (Dask, journal,
progress) -> outputs (runs.csv/.parquet, best.json, heatmap.png, walk_forward.csv).  A run is the
backtest's own ``run_fast``; this package only decides which runs to make and where they go.
"""
