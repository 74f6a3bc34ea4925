"""Run mutmut over chosen modules and print the mutation score per module and in total.

    python tools/mutation_report.py all [MODULE.py ...]     # each module against its own tests (make mutate)
    python tools/mutation_report.py run MODULE.py ...      # one mutmut run, mutating only these modules
    python tools/mutation_report.py report MODULE.py ...   # score from mutants/<module>.meta

``make mutate`` calls ``all``: for each module of ``[tool.tbot-mutation.tests]`` in pyproject.toml (or those
given) a fresh ``mutmut run`` in a child process that mutates only that module and runs only the test files
the table lists for it; each module's results are kept in ``build/mutation/`` with its wall time, and the
report covers them all.  One module at a time keeps each mutant's test set (and so its timeout) to the tests
written for that module; a kill by another module's tests is missed, never invented, so the score can only
be lower than with every test file.  ``run`` is ``mutmut run`` with ``only_mutate`` (from ``[tool.mutmut]``)
replaced by the modules given.  ``report`` reads the per-file results mutmut writes
(``mutants/<path>.meta``), because ``mutants/mutmut-cicd-stats.json`` only holds the total.  A mutant
counts as killed when a test failed on it (or it timed out, or crashed the interpreter); the score is
killed / all mutants of the module, so "no tests" and "survived" count against it.  ``--fail-under PCT`` exits 1 when a module or the total scores below PCT.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path

RESULTS = Path("build/mutation")

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


def module_tests(pyproject: Path = Path("pyproject.toml")) -> dict[str, list[str]]:
    """``[tool.tbot-mutation.tests]``: module -> the test files that kill its mutants, in ``make mutate``'s order."""
    table = tomllib.loads(pyproject.read_text())["tool"]["tbot-mutation"]["tests"]
    return {module: list(tests) for module, tests in table.items()}


def run_all(paths: list[str], max_children: int, fail_under: float | None) -> int:
    """Each module in turn, in a fresh ``mutants/`` and a child process, against its own test files."""
    table = module_tests()
    unknown = [path for path in paths if path not in table]
    if unknown:
        print(
            f"pyproject.toml [tool.tbot-mutation.tests]: no test files listed for {', '.join(unknown)}", file=sys.stderr
        )
        return 2
    paths = paths or list(table)
    shutil.rmtree(RESULTS, ignore_errors=True)
    RESULTS.mkdir(parents=True)
    times: dict[str, float] = {}
    started = time.monotonic()
    for path in paths:
        shutil.rmtree("mutants", ignore_errors=True)
        start = time.monotonic()
        command = [sys.executable, __file__, "run", "--max-children", str(max_children), "--tests", *table[path]]
        code = subprocess.run([*command, "--", path], check=False).returncode
        times[path] = time.monotonic() - start
        meta, kept = Path("mutants", path + ".meta"), RESULTS / (path + ".meta")
        if code == 0 and meta.exists():
            kept.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(meta, kept)
        else:
            print(f"{path}: mutmut run failed (exit {code}); its module counts as unscored", file=sys.stderr)
        print(f"== {path}: {times[path] / 60:.1f} min", flush=True)
    times["TOTAL"] = time.monotonic() - started
    (RESULTS / "minutes.json").write_text(json.dumps({k: round(v / 60, 1) for k, v in times.items()}, indent=1))
    return report(paths, fail_under, RESULTS, times)


def report(
    paths: list[str], fail_under: float | None, root: Path = Path("mutants"), times: dict[str, float] | None = None
) -> int:
    rows, all_killed, all_total, missing = [], 0, 0, []
    times = times or {}
    for path in paths:
        results = module_results(path, root)
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
        took = f"  {times[path] / 60:5.1f} min" if path in times else ""
        print(f"  {path:<{width}}  {killed:>4} / {total:<4}  {pct:5.1f} %{took}")
        for name in survivors:
            print(f"      {results[name]:<11} {name}")
        if fail_under is not None and pct < fail_under:
            failing.append(path)
    for path in missing:
        print(f"  {path:<{width}}  no results (not mutated: outside source_paths, or no function bodies)")
        failing.append(path)
    total_pct = 100.0 * all_killed / all_total if all_total else 0.0
    took = f"  {times['TOTAL'] / 60:5.1f} min" if "TOTAL" in times else ""
    print(f"  {'TOTAL':<{width}}  {all_killed:>4} / {all_total:<4}  {total_pct:5.1f} %{took}")
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
    parser.add_argument("command", choices=("all", "run", "report"))
    parser.add_argument("paths", nargs="*", help="modules, as paths from the repository root (all: default every one)")
    parser.add_argument("--max-children", type=int, default=2, help="mutmut worker processes (all, run)")
    parser.add_argument("--tests", nargs="+", default=None, help="run only these test files (run only)")
    parser.add_argument("--fail-under", type=float, default=None, help="exit 1 below this score in %% (all, report)")
    args = parser.parse_intermixed_args(argv)
    if args.command == "all":
        return run_all(args.paths, args.max_children, args.fail_under)
    if not args.paths:
        parser.error(f"{args.command} needs at least one module")
    if args.command == "run":
        return run(args.paths, args.max_children, args.tests)
    return report(args.paths, args.fail_under)


if __name__ == "__main__":
    sys.exit(main())
