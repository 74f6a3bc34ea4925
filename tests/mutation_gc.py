"""A pytest plugin for mutation runs only: ``[tool.mutmut] pytest_add_cli_args`` loads it with ``-p``.

mutmut forks each mutant's pytest from a process that has already imported the package and collected the tests.
At the end of every session pytest's unraisable-exception check runs ``gc.collect()`` five times over that whole
inherited heap: 0.34 s of a 0.5 s run for a fast test, on each of several thousand mutants. Freezing what the fork
inherited limits those collections to the objects the test itself made, which are the only ones the check is about.

Each mutant's ``tmp_path`` folders go under ``mutants/pytest-tmp/<pid>`` and are removed when its session ends:
pytest's own clean-up of ``/tmp/pytest-of-<user>`` runs at interpreter exit, which mutmut's forked workers never
reach, so every mutant used to leave its folders behind (68 GB of them filled the disk here). A mutant stopped by
a timeout leaves its folder in ``mutants/``, which ``make mutate`` removes before each module.
"""

from __future__ import annotations

import gc
import os
import shutil
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent / "pytest-tmp"  # mutmut loads this file from its copy in mutants/


@pytest.hookimpl(tryfirst=True)  # before pytest's tmpdir plugin reads --basetemp
def pytest_configure(config: pytest.Config) -> None:
    gc.freeze()
    if config.option.basetemp is None:
        ROOT.mkdir(parents=True, exist_ok=True)
        config.option.basetemp = str(ROOT / str(os.getpid()))
        config.stash[_OWN] = True


def pytest_unconfigure(config: pytest.Config) -> None:
    if config.stash.get(_OWN, False):
        shutil.rmtree(config.option.basetemp, ignore_errors=True)


_OWN = pytest.StashKey[bool]()
