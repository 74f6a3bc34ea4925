"""Long sweep of the seeded fault simulator: seeds/s, steps/s, and every failing seed with its replay line.

Each seed is one run of the real core under its drawn fault schedule (see
tests/sim and the README section "How we know it fails closed").  The peer is
the real core itself: a step is one second of the core's own clock, which a
real core needs one wall-clock second to live through; "sim-seconds per second"
is the ratio.  Seeds are spread over one process per CPU.  The last line is
``violations: K`` (violations of seeds not listed in tests/sim/known.py are
also counted there, and make the exit status 1).
Run: ``.venv/bin/python bench/sim.py [--seeds 5000] [--first-seed 0] [--jobs N]``.
"""

from __future__ import annotations

import argparse
import multiprocessing
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def _chunk(bounds: tuple[int, int]) -> list[tuple[int, int, list[str], list[str]]]:
    from tests.sim.known import known_defect
    from tests.sim.simulator import run_seed
    from tests.sim.sweep import report

    out = []
    for seed in range(*bounds):
        result = run_seed(seed)
        unknown = [v for v in result.violations if not known_defect(v, result.schedule)]
        known = [f"seed {seed}: {v}" for v in result.violations if known_defect(v, result.schedule)]
        text = [report(result)] if unknown else []
        out.append((result.steps, len(result.violations), text, known))
    return out


def main() -> int:
    parser = argparse.ArgumentParser(prog="bench/sim.py")
    parser.add_argument("--seeds", type=int, default=5000)
    parser.add_argument("--first-seed", type=int, default=0)
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    size = 25
    bounds = [
        (s, min(s + size, args.first_seed + args.seeds))
        for s in range(args.first_seed, args.first_seed + args.seeds, size)
    ]
    start = time.perf_counter()
    steps = violations = unknown = 0
    known: list[str] = []
    with multiprocessing.get_context("fork").Pool(args.jobs) as pool:
        for rows in pool.imap_unordered(_chunk, bounds):
            for n_steps, n_viol, text, known_lines in rows:
                steps += n_steps
                violations += n_viol
                known += known_lines
                for block in text:
                    unknown += 1
                    print(block, flush=True)
    seconds = time.perf_counter() - start
    print(f"seeds {args.first_seed}..{args.first_seed + args.seeds - 1} on {args.jobs} process(es) in {seconds:.1f}s")
    print(f"seeds/s: {args.seeds / seconds:.2f}")
    print(
        f"steps/s: {steps / seconds:.1f}  (a step is one sim-second of the core's clock: "
        f"{steps / seconds:.0f}x a real core living through the same faults)"
    )
    print(
        f"known defects (tests/sim/known.py) hit by {len(known)} violation(s)" + (f", e.g. {known[0]}" if known else "")
    )
    print(f"seeds failing on an unknown defect: {unknown}")
    print(f"violations: {violations}")
    return 1 if unknown else 0


if __name__ == "__main__":
    sys.exit(main())
