"""security_bot on a real home's vault, broken the way an operator or an attacker would break it: modes
changed with chmod, files cut or swapped, generation.json and used_keys.json edited, the current link bent.

Each test names the exact line the bot must report (or the warning it must give); together with
``test_security_bot.py`` they pin every check in ``security_bot.py``.
"""

from __future__ import annotations

import json
import os

from tbot_core.paths import HomePaths
from tbot_core.safety.security_bot import REQUIRED_ARTIFACTS, SecurityBot, security_checks
from tbot_core.secrets.store import SecretStore


def _gen(bot_home):
    return bot_home.vault.current_dir()


def test_a_healthy_fresh_home_passes_with_the_generation_and_no_warning(bot_home):
    result = SecurityBot(bot_home).self_check()
    assert result.ok and result.module == "security_bot"
    assert result.detail == "generation 1: every artifact decrypts, keys and secrets private"


def test_the_factory_builds_one_bot_for_the_home(bot_home):
    (bot,) = security_checks(bot_home)
    assert isinstance(bot, SecurityBot) and bot.home is bot_home and bot.paths is bot_home.paths


def test_the_required_artifacts_are_the_config_and_the_identity():
    assert REQUIRED_ARTIFACTS == (HomePaths.CONFIG_REL, HomePaths.IDENTITY_REL)


def test_problems_are_joined_in_one_detail_with_the_restore_hint(bot_home):
    os.chmod(bot_home.paths.backups_dir, 0o750)
    os.chmod(bot_home.paths.used_keys_file, 0o640)
    result = SecurityBot(bot_home).self_check()
    assert not result.ok
    assert result.detail == (
        "backups: folder open to group or others (mode 750); expected 0700"
        " | vault/used_keys.json: readable by group or others (mode 640); expected 0600"
    )
    assert result.hint == "restore the named file (and its key) from backups/, or fix its mode with chmod 600"


def test_every_folder_of_the_vault_and_the_generation_is_checked(bot_home):
    gen = _gen(bot_home)
    for folder in (bot_home.paths.vault_dir, gen / "secrets"):
        os.chmod(folder, 0o701)
    problems = SecurityBot(bot_home).findings()
    assert problems == [
        "vault: folder open to group or others (mode 701); expected 0700",
        "vault/gen-000001/secrets: folder open to group or others (mode 701); expected 0700",
    ]


def test_every_file_of_the_generation_except_the_key_is_checked(bot_home):
    gen = _gen(bot_home)
    os.chmod(gen / "generation.json", 0o604)
    os.chmod(gen / HomePaths.KEY_REL, 0o644)  # the home stage's vault_key fact judges the key's mode
    assert SecurityBot(bot_home).findings() == [
        "vault/gen-000001/generation.json: readable by group or others (mode 604); expected 0600"
    ]


def test_a_vault_backup_open_to_others_is_reported(bot_home):
    SecretStore(bot_home).set("screener_api", {"api_key": "FINNHUBBACKUP0001"})
    backups = list(bot_home.paths.vault_backups())
    assert backups
    os.chmod(backups[0], 0o644)
    problems = SecurityBot(bot_home).findings()
    assert problems == [f"{bot_home.vault.rel(backups[0])}: readable by group or others (mode 644); expected 0600"]


def test_a_key_that_does_not_match_its_generation_is_named(bot_home):
    gen = _gen(bot_home)
    meta = json.loads((gen / "generation.json").read_text())
    meta["key_fingerprint"] = "0" * len(meta["key_fingerprint"])
    (gen / "generation.json").write_text(json.dumps(meta))
    problems = SecurityBot(bot_home).findings()
    assert problems == [
        "vault/gen-000001/keys/fernet.key: does not match the fingerprint in generation.json (wrong or swapped key)"
    ]


def test_a_key_this_home_never_made_is_named(bot_home):
    bot_home.paths.used_keys_file.write_text(json.dumps({"fingerprints": []}))
    os.chmod(bot_home.paths.used_keys_file, 0o600)
    problems = SecurityBot(bot_home).findings()
    assert "vault/gen-000001/keys/fernet.key: not in vault/used_keys.json (key not created by this home)" in problems


def test_a_missing_config_is_reported_as_missing(bot_home):
    (_gen(bot_home) / HomePaths.CONFIG_REL).unlink()
    problems = SecurityBot(bot_home).findings()
    assert "vault/current/config/.env_bot.enc: missing" in problems


def test_a_missing_identity_is_reported_as_missing(bot_home):
    (_gen(bot_home) / HomePaths.IDENTITY_REL).unlink()
    assert "vault/current/config/bot_identity.json.enc: missing" in SecurityBot(bot_home).findings()


def test_a_config_that_does_not_decrypt_is_named(bot_home):
    config = _gen(bot_home) / HomePaths.CONFIG_REL
    config.write_bytes(config.read_bytes()[:-12])
    problems = SecurityBot(bot_home).findings()
    assert len(problems) == 1 and problems[0].startswith("vault/current/config/.env_bot.enc")
    assert "does not decrypt" in problems[0]


def test_a_secret_that_does_not_decrypt_is_named_by_its_file(bot_home):
    SecretStore(bot_home).set("screener_api", {"api_key": "FINNHUBCUTCUTCUT1"})
    secret = _gen(bot_home) / HomePaths.secret_rel("screener_api")
    secret.write_bytes(secret.read_bytes()[:-12])
    (problem,) = SecurityBot(bot_home).findings()
    assert "secrets/screener_api.json.enc: does not decrypt" in problem


def test_a_step_that_cannot_decide_is_a_problem_and_the_other_steps_still_run(bot_home):
    gen = _gen(bot_home)
    (gen / HomePaths.KEY_REL).unlink()
    os.chmod(bot_home.paths.backups_dir, 0o755)
    problems = SecurityBot(bot_home).findings()
    assert "backups: folder open to group or others (mode 755); expected 0700" in problems
    assert any(p.startswith("vault/gen-000001/keys/fernet.key: key file missing") for p in problems)
    assert all("\n" not in p and "  " not in p for p in problems)


def test_a_current_link_to_a_missing_generation_stops_the_check_at_recovery(bot_home):
    link = bot_home.paths.current_link
    link.unlink()
    link.symlink_to("gen-000009")
    (problem,) = SecurityBot(bot_home).findings()
    assert problem == ("vault/current: points at gen-000009, which does not exist (hint: restore vault/ from backups/)")


def test_a_plaintext_overlay_that_is_not_utf8_is_refused(bot_home):
    bot_home.paths.plaintext_env.write_bytes(b"MAX_PE_RATIO=\xff\xfe30\n")
    assert SecurityBot(bot_home).findings() == [".env_bot: not UTF-8 text"]


def test_a_production_overlay_is_refused_in_any_case(bot_home):
    bot_home.paths.plaintext_env.write_text("ENVIRONMENT=Production\n")
    (problem,) = SecurityBot(bot_home).findings()
    assert problem.startswith(".env_bot: plaintext config present while ENVIRONMENT=production; move it into")
    assert problem.endswith("(`tbot config set`) and delete it")


def test_a_development_overlay_warns_once_per_check_and_tells_the_home(bot_home):
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=30\n")
    bot = SecurityBot(bot_home)
    assert bot.findings() == [] and bot.findings() == []
    assert bot.warnings == [".env_bot: plaintext config overlay in use (development only)"]
    assert bot_home.warnings[-1] == ".env_bot: plaintext config overlay in use (development only)"
    detail = bot.self_check().detail
    assert detail == (
        "generation 1: every artifact decrypts, keys and secrets private"
        "; warning: .env_bot: plaintext config overlay in use (development only)"
    )


def test_a_failed_check_is_reported_under_the_bots_own_name(bot_home):
    os.chmod(bot_home.paths.backups_dir, 0o755)
    result = SecurityBot(bot_home).self_check()
    assert not result.ok and result.module == "security_bot"


def test_a_malformed_plaintext_overlay_is_named_with_its_line(bot_home):
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=30\nthis is not a setting\n")
    (problem,) = SecurityBot(bot_home).findings()
    assert problem.startswith(".env_bot:2: expected KEY=VALUE")


def test_a_malformed_encrypted_config_is_named_as_the_vaults_config_when_an_overlay_exists(bot_home):
    bot_home.vault.write(HomePaths.CONFIG_REL, b"ALLOC_OPEN=0.9\nALLOC_MID=0.9\n")
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=30\n")
    problems = SecurityBot(bot_home).findings()
    assert any(p.startswith(".env_bot.enc: ALLOC_OPEN+ALLOC_MID+ALLOC_CLOSE is") for p in problems), problems
