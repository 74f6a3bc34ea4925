"""A sweep's best runs (or, for a walk-forward sweep, its folds: in-sample next to out-of-sample)."""

from __future__ import annotations

from textual.widgets import DataTable

from tbot_tui.sweep_data import SweepDetail

DASH = "-"


def pct(text: str | None) -> str:
    try:
        return f"{float(text or '') * 100:+.2f}%"
    except ValueError:
        return DASH


def score(text: str | None) -> str:
    try:
        return f"{float(text or ''):.4g}"
    except ValueError:
        return DASH


class SweepRuns(DataTable[str]):
    def show(self, detail: SweepDetail) -> None:
        self.clear(columns=True)
        keys = list(detail.listing.keys)
        if detail.folds:
            self.add_columns("fold", *keys, "in-sample", "out-of-sample", "IS return", "OOS return")
            for fold in detail.folds:
                self.add_row(
                    fold.get("fold", ""),
                    *(fold.get(k, "") or DASH for k in keys),
                    score(fold.get("in_sample_objective")),
                    score(fold.get("out_of_sample_objective")),
                    pct(fold.get("in_sample_return")),
                    pct(fold.get("out_of_sample_return")),
                )
            return
        objective = f"score ({detail.listing.objective})" if detail.listing.objective else "score"
        self.add_columns("#", *keys, objective, "return", "max DD", "trades", "run")
        for rank, row in enumerate(detail.top, start=1):
            self.add_row(
                str(rank),
                *(row.get(k, "") for k in keys),
                score(row.get("objective")),
                pct(row.get("total_return")),
                pct(row.get("max_drawdown")),
                row.get("trades", ""),
                row.get("run_id", ""),
            )
