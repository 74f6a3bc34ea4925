"""A pytest plugin for mutation runs only: ``[tool.mutmut] pytest_add_cli_args`` loads it with ``-p``.

mutmut forks each mutant's pytest from a process that has already imported the package and collected the tests.
At the end of every session pytest's unraisable-exception check runs ``gc.collect()`` five times over that whole
inherited heap: 0.34 s of a 0.5 s run for a fast test, on each of several thousand mutants. Freezing what the fork
inherited limits those collections to the objects the test itself made, which are the only ones the check is about.
"""

from __future__ import annotations

import gc

import pytest


def pytest_configure(config: pytest.Config) -> None:
    gc.freeze()
