"""``tbot config set``: a key outside the schema is refused before the vault is touched.

Test hooks are not config keys (faults reach the core only as ``Fakes`` passed
into the wiring), so the name of one must be an unknown key like any typo.
"""

from __future__ import annotations

import pytest

from tbot_core.cli.cmd_config import apply_config_change
from tbot_core.cli.main import main
from tbot_core.errors import ConfigError


def test_a_test_hook_name_is_an_unknown_key(bot_home, capsys: pytest.CaptureFixture[str]) -> None:
    before = bot_home.encrypted_settings_text()
    with pytest.raises(ConfigError, match="unknown key TEST_ENGINE_FAULT_AT_BAR"):
        apply_config_change(bot_home, "TEST_ENGINE_FAULT_AT_BAR", "5")
    code = main(["config", "set", "--home", str(bot_home.paths.root), "TEST_ENGINE_FAULT_AT_BAR", "5"])
    err = capsys.readouterr().err
    assert code == ConfigError.exit_code == 2
    assert err.splitlines() == ["error: unknown key TEST_ENGINE_FAULT_AT_BAR"]
    assert bot_home.encrypted_settings_text() == before
