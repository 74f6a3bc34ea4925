"""``plot_results.py``: an equity-and-drawdown PNG with trade markers (matplotlib, Agg).

Reads the backtest outputs (so it can be run again on an old run) and writes
``equity_drawdown.png`` beside them.  ``python -m tbot_core.backtest.plot_results``.
"""

from __future__ import annotations

import argparse
import json
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import pandas as pd

from tbot_core.backtest.sources import resolve_identity
from tbot_core.errors import TbotError
from tbot_core.paths import HomePaths


def plot_folder(paths: HomePaths, identity: str) -> str:
    try:
        summary_file = paths.backtest_daily_summary(identity)
        summary = json.loads(summary_file.read_text())
        trades = json.loads(paths.backtest_trades_json(identity).read_text())["trades"]
    except FileNotFoundError:
        raise TbotError("no backtest outputs to plot", hint="run `tbot backtest ...` first") from None
    days = pd.DataFrame(summary["days"])
    if days.empty:
        raise TbotError(f"{summary_file.name}: no days to plot")
    dates = pd.to_datetime(days["date"])
    equity = days["equity"].astype(float)
    drawdown = days["drawdown"].astype(float) * 100
    fig, (top, bottom) = plt.subplots(2, 1, figsize=(11, 6), sharex=True, gridspec_kw={"height_ratios": [3, 1]})
    top.plot(dates, equity, color="#1f77b4", linewidth=1.2, label="equity")
    by_day = dict(zip(days["date"], equity))
    for kind, key, marker, colour in (("entry", "entry_utc", "^", "#2ca02c"), ("exit", "exit_utc", "v", "#d62728")):
        points = [(pd.Timestamp(t[key][:10]), by_day[t[key][:10]]) for t in trades if t[key] and t[key][:10] in by_day]
        if points:
            xs, ys = zip(*points)
            top.scatter(xs, ys, marker=marker, color=colour, s=28, label=kind, zorder=3)
    run = summary["run"]
    metrics = summary["metrics"]
    top.set_title(
        f"{run['strategy']} {', '.join(run['symbols'][:4])}  {run['start']} to {run['end']}  "
        f"return {float(metrics['total_return']) * 100:.2f}%  Sharpe {metrics['sharpe_annualized']}"
    )
    top.set_ylabel("equity")
    top.legend(loc="upper left")
    top.grid(alpha=0.3)
    bottom.fill_between(dates, drawdown, 0, color="#d62728", alpha=0.4)
    bottom.set_ylabel("drawdown %")
    bottom.grid(alpha=0.3)
    fig.tight_layout()
    out = paths.backtest_plot(identity)
    fig.savefig(out, dpi=110)
    plt.close(fig)
    return str(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="plot_results", description=__doc__)
    parser.add_argument("--home", default=None)
    args = parser.parse_args(argv)
    paths = HomePaths(args.home)
    try:
        print(plot_folder(paths, resolve_identity(paths).BOT_IDENTITY))
    except TbotError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        return exc.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
