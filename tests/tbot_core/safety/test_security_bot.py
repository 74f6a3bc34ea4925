"""security_bot blocks launch on anything wrong with the vault, one sanitized line per problem naming the file."""

from __future__ import annotations

import os

from cryptography.fernet import Fernet

from tbot_core.cli.cmd_config import apply_config_change
from tbot_core.paths import HomePaths
from tbot_core.safety.security_bot import SecurityBot
from tbot_core.secrets.store import SecretStore
from tbot_core.startup import STAGES, run_startup


def test_a_healthy_home_passes(bot_home):
    SecretStore(bot_home).set("screener_api", {"api_key": "FINNHUBHEALTHY01"})
    result = SecurityBot(bot_home).self_check()
    assert result.ok, result.detail
    assert "generation 2" in result.detail


def test_it_is_the_stage_right_after_the_home_checks(bot_home):
    assert [stage.name for stage in STAGES][:2] == ["home", "secrets"]
    assert STAGES[1].factories[0][0] == "security_bot"
    assert "security_bot" in [result.module for result in run_startup(bot_home)]


def test_each_problem_is_one_line_naming_its_file_and_no_value_leaks(bot_home):
    store = SecretStore(bot_home)
    store.set("screener_api", {"api_key": "FINNHUBLEAKCHECK1"})
    store.set("notifier_webhook", {"url": "https://hooks.example.invalid/x"})
    gen = bot_home.vault.current_dir()
    webhook = gen / HomePaths.secret_rel("notifier_webhook")
    webhook.write_bytes(webhook.read_bytes()[:-10])
    os.chmod(gen / HomePaths.secret_rel("screener_api"), 0o644)
    bot = SecurityBot(bot_home)
    problems = bot.findings()
    assert len(problems) == 2 and all("\n" not in p for p in problems)
    assert any("secrets/screener_api.json.enc: readable by group or others" in p for p in problems)
    assert any("secrets/notifier_webhook.json.enc: does not decrypt" in p for p in problems)
    result = bot.self_check()
    assert not result.ok and "FINNHUBLEAKCHECK1" not in result.one_line()


def test_an_open_vault_folder_is_refused(bot_home):
    os.chmod(bot_home.vault.current_dir(), 0o755)
    (problem,) = SecurityBot(bot_home).findings()
    assert "vault/gen-000001: folder open to group or others (mode 755)" in problem


def test_a_swapped_key_is_named_as_the_key(bot_home):
    (bot_home.vault.current_dir() / HomePaths.KEY_REL).write_bytes(Fernet.generate_key())
    problems = SecurityBot(bot_home).findings()
    assert problems and all("keys/fernet.key" in p for p in problems)


def test_plaintext_env_bot_warns_in_development_and_blocks_in_production(bot_home):
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=30\n")
    dev = SecurityBot(bot_home).self_check()
    assert dev.ok and "warning: .env_bot: plaintext config overlay in use" in dev.detail
    bot_home.paths.plaintext_env.unlink()
    apply_config_change(bot_home, "ENVIRONMENT", "production")
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=30\n")
    prod = SecurityBot(bot_home).self_check()
    assert not prod.ok and prod.detail.startswith(".env_bot: plaintext config present while ENVIRONMENT=production")


def test_a_plaintext_overlay_that_switches_to_production_is_refused(bot_home):
    bot_home.paths.plaintext_env.write_text("ENVIRONMENT=production\n")
    assert not SecurityBot(bot_home).self_check().ok


def test_it_finishes_an_interrupted_rotation_before_checking(bot_home):
    bot_home.paths.generation_staging_dir(2).mkdir()
    result = SecurityBot(bot_home).self_check()
    assert result.ok and not bot_home.paths.generation_staging_dir(2).exists()


def test_a_missing_current_link_fails_closed(bot_home):
    bot_home.paths.current_link.unlink()
    result = SecurityBot(bot_home).self_check()
    assert not result.ok and "vault/current: missing" in result.detail
