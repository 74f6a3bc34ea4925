"""Shared fixtures: real bot homes in temporary folders, and the real ``tbot`` CLI in a subprocess."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tbot_core import sanitize
from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def _secrets_registered_by_one_test_stay_in_it(monkeypatch: pytest.MonkeyPatch) -> None:
    """The scrubber's registry is process-wide: a test that loads an SMTP secret whose host is
    127.0.0.1 must not make every later test's output read ``***`` where that address stands."""
    monkeypatch.setattr(sanitize, "_known", sanitize._known)


@pytest.fixture
def home_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> HomePaths:
    """A freshly initialised paper-mode home; ``TBOT_HOME`` points at it."""
    paths, _ = init_home(tmp_path / "home")
    monkeypatch.setenv("TBOT_HOME", str(paths.root))
    return paths


@pytest.fixture
def bot_home(home_paths: HomePaths) -> BotHome:
    return BotHome(str(home_paths.root))


def run_tbot(
    *args: str,
    home: Path | None = None,
    input: str | None = None,
    env: dict[str, str] | None = None,
    timeout: float = 60,
) -> subprocess.CompletedProcess[str]:
    """Run the real CLI (``python -m tbot_core.cli.main``) in a subprocess."""
    full_env = {**os.environ, **(env or {})}
    full_env.pop("TBOT_DEBUG", None)
    if home is not None:
        full_env["TBOT_HOME"] = str(home)
    return subprocess.run(
        [sys.executable, "-m", "tbot_core.cli.main", *args],
        capture_output=True,
        text=True,
        input=input,
        env=full_env,
        timeout=timeout,
        cwd=str(REPO),
    )


@pytest.fixture
def tbot():
    return run_tbot
