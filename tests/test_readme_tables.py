"""The README shows the error-escalation policy exactly as the code holds it."""

from __future__ import annotations

from pathlib import Path

from tbot_core.safety.escalation import markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_readme_error_policy_table_is_the_one_the_code_enforces():
    assert markdown_table().strip() in README.read_text(encoding="utf-8")
