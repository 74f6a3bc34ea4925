"""Atomic rotation: a new key re-encrypts everything as one generation, with a backup and an audit row."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading

import pytest
from cryptography.fernet import Fernet, InvalidToken

from tbot_core.cli.cmd_config import apply_config_change
from tbot_core.errors import ConfigError, SecurityError
from tbot_core.home import BotHome
from tbot_core.paths import HomePaths
from tbot_core.secrets.backup import open_backup
from tbot_core.secrets.rotation import ROTATION_CATEGORY, recover, rotate
from tbot_core.secrets.store import SecretStore
from tbot_core.secrets.vault import fingerprint, read_generation_meta, used_key_fingerprints


def _plaintexts(home: BotHome) -> dict[str, bytes]:
    return {str(rel): home.vault.read(rel) for rel in home.vault.artifacts()}


def test_rotation_re_encrypts_every_artifact_under_a_new_key_with_the_same_plaintexts(bot_home):
    SecretStore(bot_home).set("screener_api", {"api_key": "FINNHUBROTATE01"})
    before = _plaintexts(bot_home)
    old_key = bot_home.vault.key_bytes()
    assert rotate(bot_home, initiator="operator") == 3
    new_key = bot_home.vault.key_bytes()
    assert new_key != old_key
    assert _plaintexts(bot_home) == before
    gen_dir = bot_home.vault.current_dir()
    for rel in bot_home.vault.artifacts():
        with pytest.raises(InvalidToken):
            Fernet(old_key).decrypt((gen_dir / rel).read_bytes())
    meta = read_generation_meta(gen_dir)
    assert meta["generation"] == 3 and meta["previous_generation"] == 2 and meta["initiator"] == "operator"
    assert meta["key_fingerprint"] == fingerprint(new_key) and "secrets/screener_api.json.enc" in meta["artifacts"]
    assert old_key.decode() not in json.dumps(meta) and new_key.decode() not in json.dumps(meta)
    assert sorted(p.name for p in bot_home.paths.vault_dir.iterdir() if p.name.startswith("gen-")) == ["gen-000003"]


def test_the_old_generation_is_kept_as_a_backup_that_only_the_next_key_opens(bot_home):
    old_key = bot_home.vault.key_bytes()
    old_config = bot_home.vault.read(HomePaths.CONFIG_REL)
    rotate(bot_home, initiator="system")
    (backup,) = bot_home.paths.vault_backups()
    assert backup.name.startswith("vault-gen-000001-") and (backup.stat().st_mode & 0o077) == 0
    with pytest.raises(SecurityError, match="does not decrypt with the key of the next generation"):
        open_backup(backup, Fernet(old_key))
    files = open_backup(backup, bot_home.vault.fernet())
    assert files[HomePaths.KEY_REL].strip() == old_key
    assert Fernet(old_key).decrypt(files[HomePaths.CONFIG_REL]) == old_config


def test_a_key_used_before_is_refused_and_nothing_changes(bot_home):
    first_key = bot_home.vault.key_bytes()
    rotate(bot_home, initiator="operator")
    with pytest.raises(SecurityError, match="refusing to reuse a key"):
        rotate(bot_home, initiator="operator", new_key=first_key)
    assert bot_home.vault.current_generation() == 2
    fresh = Fernet.generate_key()
    assert rotate(bot_home, initiator="operator", new_key=fresh) == 3
    assert used_key_fingerprints(bot_home.paths) >= {fingerprint(first_key), fingerprint(fresh)}


def test_each_rotation_is_audited_with_sanitized_artifact_names(bot_home):
    rotate(bot_home, initiator="operator")
    with bot_home.audit(readonly=True) as audit:
        (row,) = audit.tail(5, category=ROTATION_CATEGORY)
    context = row.context_dict()
    assert row.actor == "operator" and context["generation"] == 2 and context["previous_generation"] == 1
    assert context["artifacts"] == ["config/.env_bot.enc", "config/bot_identity.json.enc"]
    assert context["backup"].startswith("vault-gen-000001-") and context["fingerprint"]


def test_a_config_change_goes_through_rotation(bot_home):
    apply_config_change(bot_home, "MAX_PE_RATIO", "42")
    assert bot_home.vault.current_generation() == 2
    assert BotHome(str(bot_home.paths.root)).settings.max_pe_ratio == 42
    with bot_home.audit(readonly=True) as audit:
        assert [r.category for r in audit.tail(2)] == [ROTATION_CATEGORY, "config"]


def test_a_tampered_artifact_stops_rotation_before_anything_is_written(bot_home):
    SecretStore(bot_home).set("screener_api", {"api_key": "FINNHUBTAMPER01"})
    secret = bot_home.vault.current_dir() / HomePaths.secret_rel("screener_api")
    raw = bytearray(secret.read_bytes())
    raw[40] ^= 0x01
    secret.write_bytes(bytes(raw))
    with pytest.raises(SecurityError, match=r"secrets/screener_api\.json\.enc: does not decrypt"):
        rotate(bot_home, initiator="operator")
    assert bot_home.vault.current_generation() == 2 and len(bot_home.paths.vault_backups()) == 1


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({HomePaths.KEY_REL: b"x"}, "expected a relative path to an .enc artifact"),
        ({HomePaths.SECRETS_REL / ".." / ".." / "x.enc": b"x"}, "expected a relative path"),
        ({HomePaths.CONFIG_REL: "text"}, "expected bytes, None or a function"),
    ],
)
def test_malformed_changes_are_refused(bot_home, changes, message):
    with pytest.raises(ConfigError, match=message):
        rotate(bot_home, initiator="operator", changes=changes)
    assert bot_home.vault.current_generation() == 1


def test_initiator_must_be_operator_or_system(bot_home):
    with pytest.raises(ConfigError, match="expected one of operator|system"):
        rotate(bot_home, initiator="ui")


def test_recover_removes_leftovers_so_exactly_one_generation_remains(bot_home):
    paths = bot_home.paths
    paths.generation_staging_dir(2).mkdir()
    paths.generation_dir(3).mkdir()
    os.symlink(paths.generation_dir(3).name, paths.current_link_staging)
    cleaned = recover(bot_home)
    assert set(cleaned) == {"gen-000002.staging", "gen-000003", "current.staging"}
    assert sorted(p.name for p in paths.vault_dir.iterdir()) == [
        "current",
        "gen-000001",
        "used_keys.json",
        "vault.lock",
    ]
    assert recover(bot_home) == []


def test_readers_never_fail_while_another_thread_rotates(bot_home):
    expected = bot_home.vault.read(HomePaths.CONFIG_REL)
    errors: list[BaseException] = []
    done = threading.Event()

    def reader() -> None:
        other = BotHome(str(bot_home.paths.root))
        while not done.is_set():
            try:
                assert other.vault.read(HomePaths.CONFIG_REL) == expected
            except BaseException as exc:
                errors.append(exc)
                return

    threads = [threading.Thread(target=reader) for _ in range(2)]
    for thread in threads:
        thread.start()
    for _ in range(25):
        rotate(bot_home, initiator="system")
    done.set()
    for thread in threads:
        thread.join()
    assert errors == []


CHILD = """
import sys
from tbot_core.home import BotHome
from tbot_core.secrets.store import SecretStore
store = SecretStore(BotHome(sys.argv[1]))
for i in range(4):
    store.set(sys.argv[2], {"api_key": "CONCURRENT%d" % i} if sys.argv[2] == "screener_api" else {"url": "https://h.invalid/%d" % i})
"""


def test_two_processes_changing_secrets_at_once_lose_nothing(bot_home):
    procs = [
        subprocess.Popen([sys.executable, "-c", CHILD, str(bot_home.paths.root), name])
        for name in ("screener_api", "notifier_webhook")
    ]
    assert [p.wait(timeout=60) for p in procs] == [0, 0]
    fresh = BotHome(str(bot_home.paths.root))
    assert fresh.vault.current_generation() == 9
    store = SecretStore(fresh)
    assert store.info("screener_api").version == 4 and store.info("notifier_webhook").version == 4
    assert store.get("screener_api") == {"api_key": "CONCURRENT3"}
