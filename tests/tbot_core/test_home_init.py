"""`tbot init` builds a complete paper home in one step and never silently replaces one."""

from __future__ import annotations

import json
import stat

import pytest

from tbot_core.errors import TbotError
from tbot_core.home import BotHome
from tbot_core.home_init import init_home


def test_init_creates_every_part_of_a_paper_home(tmp_path):
    paths, backup = init_home(tmp_path / "h")
    assert backup is None
    home = BotHome(str(paths.root))
    assert home.settings.broker == "paper" and home.identity.BROKER_CODE == "PAPER"
    for folder in paths.folders():
        assert folder.is_dir() and stat.S_IMODE(folder.stat().st_mode) == 0o700
    key = home.vault.current_dir() / paths.KEY_REL
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert paths.audit_db.exists() and paths.sample_ohlcv.exists() and paths.sample_vix.exists()
    meta = json.loads(paths.generation_meta.read_text())
    assert meta["generation"] == 1 and "key" not in json.dumps(meta).lower().replace("key_fingerprint", "")


def test_init_refuses_to_overwrite_without_force(tmp_path):
    init_home(tmp_path / "h")
    with pytest.raises(TbotError, match="already exists"):
        init_home(tmp_path / "h")


def test_force_keeps_a_timestamped_backup_of_the_old_home(tmp_path):
    paths, _ = init_home(tmp_path / "h")
    marker = paths.market_data_dir / "mine.csv"
    marker.write_text("keep me")
    _, backup = init_home(tmp_path / "h", force=True)
    assert backup is not None and (backup / "data" / "market" / "mine.csv").read_text() == "keep me"
    assert not marker.exists()


def test_plaintext_env_is_an_overlay_in_development(bot_home):
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=33\n")
    assert str(bot_home.settings.max_pe_ratio) == "33"
    assert bot_home.warnings


def test_plaintext_env_cannot_switch_to_production(bot_home):
    bot_home.paths.plaintext_env.write_text("ENVIRONMENT=production\n")
    from tbot_core.errors import SecurityError

    with pytest.raises(SecurityError, match="production"):
        bot_home.settings  # noqa: B018 - reading the property is the act under test
