"""The output half of a bot home's layout: operational logs, backtests and parameter sweeps.

Part of :mod:`tbot_core.paths` (``HomePaths`` inherits it), kept apart only so neither file
outgrows one screenful of concerns; callers always go through ``HomePaths``.
"""

from __future__ import annotations

import re
from pathlib import Path

_IDENTITY_RE = re.compile(r"^[A-Z0-9][A-Z0-9_]{1,63}$")
_SWEEP_ID_RE = re.compile(r"^[a-z][a-z0-9_]{0,31}-[0-9a-f]{12}$")


class OutputPaths:
    """Paths under ``output/{BOT_IDENTITY}/``, per identity (the identity is validated)."""

    __slots__ = ()
    root: Path

    # -- operational output ---------------------------------------------------------
    def output_dir(self, identity: str) -> Path:
        if not _IDENTITY_RE.match(identity):
            raise ValueError(f"BOT_IDENTITY {identity!r}: expected A-Z, 0-9 and _ (2-64 chars)")
        return self.root / "output" / identity

    def logs_dir(self, identity: str) -> Path:
        return self.output_dir(identity) / "logs"

    def log_file(self, identity: str, name: str) -> Path:
        return self.logs_dir(identity) / name

    def system_log(self, identity: str, fmt: str = "JSON") -> Path:
        return self.log_file(identity, "system.log" if fmt.upper() == "JSON" else "system.csv")

    def unresolved_orders_log(self, identity: str) -> Path:
        return self.log_file(identity, "unresolved_orders.log")

    def core_output_log(self, identity: str) -> Path:
        """stdout/stderr of a detached core (anything not already in the system log)."""
        return self.log_file(identity, "core.out")

    def strategy_log(self, identity: str, fmt: str = "JSON") -> Path:
        """Gate verdicts, one per line, in the configured LOG_FORMAT (JSON lines or CSV)."""
        return self.log_file(identity, "strategy_verdicts.jsonl" if fmt.upper() == "JSON" else "strategy_verdicts.csv")

    def tuning_summary(self, identity: str) -> Path:
        return self.log_file(identity, "tuning_summary.json")

    def backtest_dir(self, identity: str) -> Path:
        return self.output_dir(identity) / "backtest"

    def output_identities(self) -> list[str]:
        """BOT_IDENTITY names that have an output folder in this home (valid names only)."""
        folder = self.root / "output"
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and _IDENTITY_RE.match(p.name))

    def backtest_plot(self, identity: str) -> Path:
        return self.backtest_dir(identity) / "equity_drawdown.png"

    def backtest_daily_summary(self, identity: str) -> Path:
        """The latest backtest's per-day equity (the console plots it)."""
        return self.backtest_dir(identity) / "daily_summary_backtest.json"

    def backtest_trades_csv(self, identity: str) -> Path:
        return self.backtest_dir(identity) / "trade_history_backtest.csv"

    def backtest_trades_json(self, identity: str) -> Path:
        return self.backtest_dir(identity) / "trade_history_backtest.json"

    # -- parameter sweeps (tbot backtest sweep) ---------------------------------------
    def sweeps_dir(self, identity: str) -> Path:
        """One folder per sweep, named by its id (``{strategy}-{hash}``), under the backtest folder."""
        return self.backtest_dir(identity) / "sweeps"

    def sweep_dir(self, identity: str, sweep_id: str) -> Path:
        if not _SWEEP_ID_RE.match(sweep_id):
            raise ValueError(f"sweep id {sweep_id!r}: expected a strategy name, '-' and 12 hex digits")
        return self.sweeps_dir(identity) / sweep_id

    def sweep_ids(self, identity: str) -> list[str]:
        """The sweeps this identity has (valid names only), in name order."""
        folder = self.sweeps_dir(identity)
        if not folder.is_dir():
            return []
        return sorted(p.name for p in folder.iterdir() if p.is_dir() and _SWEEP_ID_RE.match(p.name))

    def sweep_meta(self, identity: str, sweep_id: str) -> Path:
        """What the sweep is (strategy, params, search, window) and how far it got."""
        return self.sweep_dir(identity, sweep_id) / "sweep.json"

    def sweep_journal(self, identity: str, sweep_id: str) -> Path:
        """One JSON line per finished run, appended as each run finishes (``--resume`` reads it)."""
        return self.sweep_dir(identity, sweep_id) / "journal.jsonl"

    def sweep_runs_csv(self, identity: str, sweep_id: str) -> Path:
        return self.sweep_dir(identity, sweep_id) / "runs.csv"

    def sweep_runs_parquet(self, identity: str, sweep_id: str) -> Path:
        return self.sweep_dir(identity, sweep_id) / "runs.parquet"

    def sweep_best(self, identity: str, sweep_id: str) -> Path:
        return self.sweep_dir(identity, sweep_id) / "best.json"

    def sweep_heatmap(self, identity: str, sweep_id: str) -> Path:
        return self.sweep_dir(identity, sweep_id) / "heatmap.png"

    def sweep_walk_forward(self, identity: str, sweep_id: str) -> Path:
        """Per fold: the parameters picked on train, in-sample next to out-of-sample figures."""
        return self.sweep_dir(identity, sweep_id) / "walk_forward.csv"
