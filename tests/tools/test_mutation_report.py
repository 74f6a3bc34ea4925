"""``tools/mutation_report.py``: ``make mutate``'s table stays the union mutmut itself is configured with, and the
report counts a timeout as killed and a survivor or an untested mutant against the score."""

from __future__ import annotations

import importlib.util
import json
import tomllib
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
_spec = importlib.util.spec_from_file_location("mutation_report", REPO / "tools" / "mutation_report.py")
assert _spec is not None and _spec.loader is not None
mutation_report = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(mutation_report)


def test_every_module_make_mutate_runs_is_mutmuts_and_every_test_file_exists_in_mutmuts_selection():
    table = mutation_report.module_tests(REPO / "pyproject.toml")
    mutmut = tomllib.loads((REPO / "pyproject.toml").read_text())["tool"]["mutmut"]
    assert list(table) == mutmut["only_mutate"]
    selection = set(mutmut["pytest_add_cli_args_test_selection"])
    for module, tests in table.items():
        assert (REPO / module).is_file() and tests, module
        for test in tests:
            assert (REPO / test).is_file() and test in selection, (module, test)


def test_only_tests_keeps_the_options_and_a_deselect_whose_file_is_still_selected():
    selection = ["-x", "a.py", "b.py", "--deselect", "a.py::slow", "--deselect", "b.py::slow"]
    assert mutation_report.only_tests(selection, ["a.py"]) == ["-x", "--deselect", "a.py::slow", "a.py"]


def _results(root: Path, module: str, codes: dict[str, int | None]) -> None:
    meta = root / (module + ".meta")
    meta.parent.mkdir(parents=True, exist_ok=True)
    meta.write_text(json.dumps({"exit_code_by_key": codes}))


def test_the_report_scores_each_module_and_the_total_and_fails_below_the_bar(tmp_path, capsys):
    _results(tmp_path, "pkg/a.py", {"a_1": 1, "a_2": 3, "a_3": -24, "a_4": 0})  # 3 killed (one by a timeout)
    _results(tmp_path, "pkg/b.py", {"b_1": 1, "b_2": 33})  # a mutant no test reaches counts against the score
    times = {"pkg/a.py": 90.0, "pkg/b.py": 30.0, "TOTAL": 120.0}
    assert mutation_report.report(["pkg/a.py", "pkg/b.py"], 50.0, tmp_path, times) == 0
    out = capsys.readouterr().out
    assert "pkg/a.py     3 / 4      75.0 %    1.5 min" in out
    assert "survived    a_4" in out and "no tests    b_2" in out and "a_1" not in out
    assert "TOTAL        4 / 6      66.7 %    2.0 min" in out
    assert mutation_report.report(["pkg/a.py", "pkg/b.py"], 60.0, tmp_path) == 1, "b.py's 50 % is below 60 %"
    assert "below 60 %: pkg/b.py" in capsys.readouterr().err


def test_a_module_without_results_fails_the_report(tmp_path, capsys):
    _results(tmp_path, "pkg/a.py", {"a_1": 1})
    assert mutation_report.report(["pkg/a.py", "pkg/gone.py"], 90.0, tmp_path) == 1
    assert "pkg/gone.py  no results" in capsys.readouterr().out


def test_all_refuses_a_module_the_table_has_no_tests_for(capsys, monkeypatch):
    monkeypatch.chdir(REPO)
    assert mutation_report.run_all(["tbot_core/paths.py"], 1, 90.0) == 2
    assert "no test files listed for tbot_core/paths.py" in capsys.readouterr().err


@pytest.mark.parametrize("code, status", [(1, "killed"), (24, "timeout"), (0, "survived"), (33, "no tests")])
def test_mutmut_exit_codes_map_to_what_happened_to_the_mutant(code, status):
    assert mutation_report.status(code) == status


def test_no_module_lists_a_test_file_twice():
    for module, tests in mutation_report.module_tests(REPO / "pyproject.toml").items():
        assert len(tests) == len(set(tests)), module
