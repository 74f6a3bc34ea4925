"""Bad input through the real CLI: non-zero exit, one clear line naming the file, nothing overwritten."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from tbot_core.home import BotHome
from tbot_core.paths import HomePaths
from tbot_core.secrets.store import SecretStore
from tests.conftest import run_tbot


def _snapshot(paths: HomePaths) -> dict[str, str]:
    """Hash of every vault, backup and plaintext-config file (the lock file carries no data)."""
    files = [
        p
        for folder in (paths.vault_dir, paths.backups_dir)
        for p in folder.rglob("*")
        if p.is_file() and p != paths.vault_lock_file
    ]
    files += [paths.plaintext_env] if paths.plaintext_env.exists() else []
    return {str(p.relative_to(paths.root)): hashlib.sha256(p.read_bytes()).hexdigest() for p in files}


def _tamper(gen: Path) -> str:
    target = gen / HomePaths.secret_rel("screener_api")
    raw = bytearray(target.read_bytes())
    raw[len(raw) // 2] ^= 0x20
    target.write_bytes(bytes(raw))
    return "secrets/screener_api.json.enc"


def _truncate(gen: Path) -> str:
    target = gen / HomePaths.CONFIG_REL
    target.write_bytes(target.read_bytes()[:50])
    return ".env_bot.enc"


def _wrong_key(gen: Path) -> str:
    (gen / HomePaths.KEY_REL).write_bytes(Fernet.generate_key() + b"\n")
    return "keys/fernet.key"


def _missing_key(gen: Path) -> str:
    (gen / HomePaths.KEY_REL).unlink()
    return "keys/fernet.key"


def _world_readable_key(gen: Path) -> str:
    os.chmod(gen / HomePaths.KEY_REL, 0o644)
    return "keys/fernet.key"


def _group_readable_secret(gen: Path) -> str:
    os.chmod(gen / HomePaths.secret_rel("screener_api"), 0o640)
    return "secrets/screener_api.json.enc"


@pytest.mark.parametrize(
    "damage", [_tamper, _truncate, _wrong_key, _missing_key, _world_readable_key, _group_readable_secret]
)
def test_damaged_vault_blocks_self_check_and_rotation_naming_the_file(bot_home, damage):
    SecretStore(bot_home).set("screener_api", {"api_key": "FINNHUBBADINPUT1"})
    named = damage(bot_home.vault.current_dir())
    before = _snapshot(bot_home.paths)
    for args in (("self-check",), ("secrets", "rotate")):
        result = run_tbot(*args, home=bot_home.paths.root)
        assert result.returncode != 0, args
        last = result.stderr.strip().splitlines()[-1]
        assert named in last and "Traceback" not in result.stderr, (args, result.stderr)
        assert "FINNHUBBADINPUT1" not in result.stdout + result.stderr
    assert _snapshot(bot_home.paths) == before


def test_plaintext_env_bot_blocks_launch_in_production_and_only_warns_in_development(bot_home):
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=30\n")
    os.chmod(bot_home.paths.plaintext_env, 0o600)
    dev = run_tbot("self-check", home=bot_home.paths.root)
    assert dev.returncode == 0 and "plaintext config overlay in use" in dev.stderr + dev.stdout
    bot_home.paths.plaintext_env.unlink()
    assert run_tbot("config", "set", "ENVIRONMENT", "production", home=bot_home.paths.root).returncode == 0
    bot_home.paths.plaintext_env.write_text("MAX_PE_RATIO=30\n")
    before = _snapshot(bot_home.paths)
    prod = run_tbot("self-check", home=bot_home.paths.root)
    assert prod.returncode != 0
    assert ".env_bot: plaintext config present while ENVIRONMENT=production" in prod.stderr.strip().splitlines()[-1]
    assert _snapshot(bot_home.paths) == before


@pytest.mark.parametrize(
    ("stdin", "message"),
    [
        ("{not json", "stdin: secret broker_alpaca: not valid JSON"),
        ('{"api_key": "AKSTDINVALUE01"}', "missing field 'secret_key'"),
        ('["AKSTDINVALUE01"]', "expected a JSON object"),
    ],
)
def test_secrets_set_rejects_bad_stdin_in_one_line_without_echoing_values(bot_home, stdin, message):
    before = _snapshot(bot_home.paths)
    result = run_tbot("secrets", "set", "broker_alpaca", "--stdin", home=bot_home.paths.root, input=stdin)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()] and message in result.stderr
    assert "AKSTDINVALUE01" not in result.stderr + result.stdout
    assert _snapshot(bot_home.paths) == before
    assert BotHome(str(bot_home.paths.root)).vault.current_generation() == 1
