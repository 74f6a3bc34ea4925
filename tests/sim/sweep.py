"""Many seeds in a row, a failing seed's report, and shrinking its schedule to a minimal failing one.

Shrinking is greedy delta debugging on the schedule (drop one fault, or the
price crash, and keep the drop while the same invariant still fails): a
schedule is a short list, so this finds a 1-minimal schedule in a few runs.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from tests.sim.schedules import Schedule, draw
from tests.sim.simulator import Result, run_seed


@dataclass
class Sweep:
    results: list[Result] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def failing(self) -> list[Result]:
        return [r for r in self.results if not r.ok]

    @property
    def steps(self) -> int:
        return sum(r.steps for r in self.results)


def sweep(first: int, count: int, *, progress: bool = False) -> Sweep:
    out = Sweep()
    start = time.perf_counter()
    for seed in range(first, first + count):
        result = run_seed(seed)
        out.results.append(result)
        if progress and not result.ok:
            print(report(result), flush=True)
    out.seconds = time.perf_counter() - start
    return out


def replay_command(result: Result, schedule: Schedule | None = None) -> str:
    cmd = f"python -m tests.sim --seed {result.seed}"
    if schedule is not None and schedule.describe() != draw(result.seed).describe():
        cmd += f" --schedule '{schedule.describe()}'"
    return cmd


def report(result: Result, shrunk: Schedule | None = None) -> str:
    first = result.violations[0]
    lines = [
        f"FAIL seed {result.seed}: {first.name} at step {first.step}: {first.detail}",
        *(f"  also: {v}" for v in result.violations[1:4]),
        f"  schedule: {result.schedule.describe()}",
    ]
    if shrunk is not None:
        lines.append(f"  minimal schedule: {shrunk.describe()}")
    lines.append(f"  replay: {replay_command(result, shrunk)}")
    return "\n".join(lines)


def shrink(result: Result, *, budget: int = 30) -> Schedule:
    """The smallest schedule (by greedy removal) on which the first violated invariant still fails."""
    target = result.violations[0].name
    best = result.schedule
    runs = 0
    changed = True
    while changed and runs < budget:
        changed = False
        candidates = [best.without(i) for i in range(len(best.faults))]
        if best.crash_at_bar is not None:
            candidates.append(Schedule(best.seed, list(best.faults), None))
        for candidate in candidates:
            runs += 1
            again = run_seed(best.seed, candidate)
            if any(v.name == target for v in again.violations):
                best, changed = candidate, True
                break
            if runs >= budget:
                break
    return best
