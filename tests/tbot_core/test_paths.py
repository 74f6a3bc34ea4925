"""Every file path comes from tbot_core/paths.py: the layout lives in one place."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tbot_core.paths import HomePaths, home

REPO = Path(__file__).resolve().parents[2]
# A path built by hand: joining a literal onto a path, Path("literal"), or os.path.join.
HAND_BUILT = re.compile(r"""([\w)\]]\s*/\s*f?["'][\w.{]|\bPath\(\s*f?["']|os\.path\.join\(|open\(\s*f?["'])""")
ALLOWED = {REPO / "tbot_core" / "paths.py", REPO / "tbot_core" / "paths_output.py"}


def _sources() -> list[Path]:
    return sorted(p for pkg in ("tbot_core", "tbot_tui") for p in (REPO / pkg).rglob("*.py") if p not in ALLOWED)


def test_no_module_builds_a_path_by_hand():
    offenders = []
    for source in _sources():
        for number, line in enumerate(source.read_text().splitlines(), start=1):
            code = line.split("#", 1)[0]
            if HAND_BUILT.search(code) and '"""' not in code:
                offenders.append(f"{source.relative_to(REPO)}:{number}: {line.strip()}")
    assert offenders == [], "paths must come from tbot_core/paths.py:\n" + "\n".join(offenders)


def test_home_prefers_argument_then_environment_then_default(monkeypatch, tmp_path):
    monkeypatch.setenv("TBOT_HOME", str(tmp_path / "env"))
    assert home(tmp_path / "arg") == tmp_path / "arg"
    assert home() == tmp_path / "env"
    monkeypatch.delenv("TBOT_HOME")
    assert home().name == "tbot_home"


def test_output_folders_are_per_identity_and_identity_is_validated(tmp_path):
    paths = HomePaths(tmp_path)
    assert paths.logs_dir("BOT_A") == tmp_path / "output" / "BOT_A" / "logs"
    with pytest.raises(ValueError, match="BOT_IDENTITY"):
        paths.logs_dir("../escape")


def test_secret_and_flag_names_cannot_escape_their_folders(tmp_path):
    paths = HomePaths(tmp_path)
    with pytest.raises(ValueError):
        paths.secret_file("../../etc/passwd")
    with pytest.raises(ValueError):
        paths.flag_file("../stop")
