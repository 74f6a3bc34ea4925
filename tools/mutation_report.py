"""Run mutmut over chosen modules and print the mutation score per module and in total.

    python tools/mutation_report.py run MODULE.py ...      # mutmut run, mutating only these modules
    python tools/mutation_report.py report MODULE.py ...   # score from mutants/<module>.meta

``make mutate`` calls both (see docs/mutation.md).  ``run`` is ``mutmut run`` with ``only_mutate``
(from ``[tool.mutmut]`` in pyproject.toml) replaced by the modules given, so ``make mutate
MUTATE_PATHS=...`` can extend the list without editing pyproject.toml.  ``report`` reads the per-file
results mutmut writes (``mutants/<path>.meta``), because ``mutants/mutmut-cicd-stats.json`` only
holds the total.  A mutant counts as killed when a test failed on it (or it timed out, or crashed the
interpreter); the score is killed / all mutants of the module, so "no tests" and "survived" count
against it.  ``--fail-under PCT`` exits 1 when a module or the total scores below PCT.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

# mutmut's exit codes (mutmut/stats.py, 3.8): 1 and 3 mean a test failed on the mutant.
KILLED: dict[int | None, str] = {
    1: "killed",
    3: "killed",
    -24: "timeout",
    24: "timeout",
    152: "timeout",
    255: "timeout",
    36: "timeout",
    -11: "segfault",
    -9: "segfault",
    37: "caught by type check",
}
NAMES = {
    0: "survived",
    5: "no tests",
    33: "no tests",
    34: "skipped",
    35: "suspicious",
    2: "interrupted",
    None: "not checked",
}


def status(exit_code: int | None) -> str:
    return KILLED.get(exit_code) or NAMES.get(exit_code, "suspicious")


def module_results(path: str, root: Path = Path("mutants")) -> dict[str, str]:
    """Mutant name -> status for one module; empty when mutmut left no results for it."""
    meta = root / (path + ".meta")
    if not meta.exists():
        return {}
    data = json.loads(meta.read_text())
    return {name: status(code) for name, code in data.get("exit_code_by_key", {}).items()}


def report(paths: list[str], fail_under: float | None) -> int:
    rows, all_killed, all_total, missing = [], 0, 0, []
    for path in paths:
        results = module_results(path)
        if not results:
            missing.append(path)
            continue
        killed = sum(1 for s in results.values() if s in set(KILLED.values()))
        total = len(results)
        survivors = sorted(name for name, s in results.items() if s not in set(KILLED.values()))
        rows.append((path, killed, total, survivors, results))
        all_killed, all_total = all_killed + killed, all_total + total
    width = max((len(p) for p in paths), default=10)
    print("\nmutation score (killed / total mutants)")
    failing = []
    for path, killed, total, survivors, results in rows:
        pct = 100.0 * killed / total
        print(f"  {path:<{width}}  {killed:>4} / {total:<4}  {pct:5.1f} %")
        for name in survivors:
            print(f"      {results[name]:<11} {name}")
        if fail_under is not None and pct < fail_under:
            failing.append(path)
    for path in missing:
        print(f"  {path:<{width}}  no results (not mutated: outside source_paths, or no function bodies)")
        failing.append(path)
    total_pct = 100.0 * all_killed / all_total if all_total else 0.0
    print(f"  {'TOTAL':<{width}}  {all_killed:>4} / {all_total:<4}  {total_pct:5.1f} %")
    if fail_under is not None and (failing or total_pct < fail_under):
        print(f"mutation score below {fail_under:g} %: {', '.join(failing) or 'TOTAL'}", file=sys.stderr)
        return 1
    return 0


def only_tests(selection: list[str], tests: list[str]) -> list[str]:
    """``pytest_add_cli_args_test_selection`` with its test files replaced by ``tests`` (options kept).

    A ``--deselect`` keeps its node id only if that node's file is still selected.
    """
    kept: list[str] = []
    args = iter(selection)
    for arg in args:
        if arg == "--deselect":
            node = next(args)
            if node.split("::")[0] in tests:
                kept += [arg, node]
        elif arg.startswith("-"):
            kept.append(arg)
    return kept + list(tests)


def run(paths: list[str], max_children: int, tests: list[str] | None = None) -> int:
    """``mutmut run`` with ``only_mutate`` replaced by ``paths`` (the rest of [tool.mutmut] applies).

    ``tests``: run only these test files (the module's own, for a quick per-module run) instead of the whole
    selection; mutants that only another file would kill then count as survivors, so the score can only be lower.
    """
    from mutmut.__main__ import cli  # imported here: mutmut sets its multiprocessing start method on import
    from mutmut.configuration import config

    for path in [*paths, *(tests or [])]:
        if not Path(path).is_file():
            print(f"no such file: {path}", file=sys.stderr)
            return 2
    config().only_mutate = list(paths)
    if tests:
        config().pytest_add_cli_args_test_selection = only_tests(config().pytest_add_cli_args_test_selection, tests)
    try:
        cli(["run", "--max-children", str(max_children)], standalone_mode=False)
    except SystemExit as exc:  # mutmut exits 0 even with survivors; anything else is a failed run
        return int(exc.code or 0)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("command", choices=("run", "report"))
    parser.add_argument("paths", nargs="+", help="modules, as paths from the repository root")
    parser.add_argument("--max-children", type=int, default=2, help="mutmut worker processes (run only)")
    parser.add_argument("--tests", nargs="+", default=None, help="run only these test files (run only)")
    parser.add_argument("--fail-under", type=float, default=None, help="exit 1 below this score in %% (report only)")
    args = parser.parse_args(argv)
    if args.command == "run":
        return run(args.paths, args.max_children, args.tests)
    return report(args.paths, args.fail_under)


if __name__ == "__main__":
    sys.exit(main())
