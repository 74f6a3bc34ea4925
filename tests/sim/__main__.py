"""``python -m tests.sim --seed N`` replays one seed; ``--seeds K --first-seed S`` runs a sweep.

A failing seed prints the invariant, the step, the schedule, a minimal
schedule (``--shrink``, on by default for a single seed) and the one-line
command that replays exactly that run.  Exit status 1 when any seed fails.
"""

from __future__ import annotations

import argparse
import sys

from tests.sim.schedules import draw, parse
from tests.sim.simulator import run_seed
from tests.sim.sweep import report, shrink, sweep


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tests.sim")
    parser.add_argument("--seed", type=int, help="run (replay) this one seed")
    parser.add_argument("--schedule", help="replace the seed's drawn schedule, e.g. 'broker_down@3(4), sigkill@9(1)'")
    parser.add_argument("--seeds", type=int, default=200, help="sweep this many seeds (without --seed)")
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--no-shrink", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the seed's home (path printed) to inspect it")
    args = parser.parse_args(argv)
    if args.seed is None:
        result = sweep(args.first_seed, args.seeds, progress=True)
        print(
            f"{len(result.results)} seeds, {result.steps} steps in {result.seconds:.1f}s; "
            f"violations: {sum(len(r.violations) for r in result.results)}"
        )
        return 1 if result.failing else 0
    schedule = parse(args.seed, args.schedule) if args.schedule is not None else draw(args.seed)
    result = run_seed(args.seed, schedule, keep=args.keep)
    print(
        f"seed {args.seed}: {result.steps} steps, {result.lives} core li{'fe' if result.lives == 1 else 'ves'}, "
        f"{result.orders} orders, last exit {result.exit_code}; schedule: {schedule.describe()}"
    )
    if result.ok:
        print("all invariants hold")
        return 0
    print(report(result, None if args.no_shrink else shrink(result)))
    return 1


if __name__ == "__main__":
    sys.exit(main())
