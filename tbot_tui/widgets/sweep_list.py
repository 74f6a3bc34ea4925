"""The home's parameter sweeps, newest first: what each varied, how it searched, how far it got."""

from __future__ import annotations

from textual.widgets import DataTable

from tbot_tui.sweep_data import SweepListing


class SweepList(DataTable[str]):
    def show(self, sweeps: list[SweepListing]) -> None:
        self.clear(columns=True)
        self.add_columns("sweep", "status", "search", "objective", "runs", "keys", "started (UTC)")
        for sweep in sweeps:
            runs = f"{sweep.runs_done if sweep.runs_done is not None else '?'}/{sweep.runs_planned or '?'}"
            search = sweep.search + (f" wf {sweep.walk_forward}" if sweep.walk_forward else "")
            self.add_row(
                sweep.sweep_id,
                sweep.problem or sweep.status,
                search,
                sweep.objective,
                runs,
                " × ".join(sweep.keys),
                sweep.started[:16].replace("T", " "),
                key=sweep.sweep_id,
            )
