"""The secret store: named, validated, encrypted secrets; every change is a rotation."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet

from tbot_core.errors import ConfigError, SecurityError
from tbot_core.paths import HomePaths
from tbot_core.sanitize import scrub
from tbot_core.secrets.backup import open_backup
from tbot_core.secrets.rotation import rotate
from tbot_core.secrets.store import SecretStore

ALPACA = {"api_key": "AKSTOREKEY0001", "secret_key": "SKSTORESECRET0001"}


def test_set_then_get_returns_the_fields_and_each_set_rotates_the_key(bot_home):
    store = SecretStore(bot_home)
    assert store.names() == []
    assert store.set("broker_alpaca", ALPACA) == 1
    assert bot_home.vault.current_generation() == 2
    assert store.get("broker_alpaca") == ALPACA
    assert store.set("broker_alpaca", {**ALPACA, "secret_key": "SKSTORESECRET0002"}) == 2
    assert bot_home.vault.current_generation() == 3
    assert store.get("broker_alpaca")["secret_key"] == "SKSTORESECRET0002"
    assert store.names() == ["broker_alpaca"]


def test_info_lists_field_names_version_and_utc_time_but_no_values(bot_home):
    store = SecretStore(bot_home)
    store.set("notifier_webhook", {"url": "https://hooks.example.invalid/abc", "token": "TOKWEBHOOK77"})
    info = store.info("notifier_webhook")
    assert info.fields == ("token", "url")
    assert info.version == 1 and info.updated_utc.endswith("Z")
    assert "TOKWEBHOOK77" not in repr(info)


def test_get_registers_values_so_they_are_scrubbed_from_any_text(bot_home):
    store = SecretStore(bot_home)
    store.set("screener_api", {"api_key": "FINNHUBKEYSCRUB42"})
    fresh = SecretStore(bot_home)
    assert fresh.get("screener_api")["api_key"] == "FINNHUBKEYSCRUB42"
    assert scrub("request failed for token FINNHUBKEYSCRUB42") == "request failed for token ***"


def test_get_of_a_secret_that_is_not_set_names_the_file(bot_home):
    with pytest.raises(SecurityError, match=r"vault/current/secrets/broker_ibkr\.json\.enc"):
        SecretStore(bot_home).get("broker_ibkr")


def test_a_record_that_decrypts_but_is_not_a_secret_is_refused_naming_the_file(bot_home):
    rotate(bot_home, initiator="system", changes={HomePaths.secret_rel("screener_api"): b"not json"})
    with pytest.raises(SecurityError, match=r"screener_api\.json\.enc: decrypts but is not a secret record"):
        SecretStore(bot_home).get("screener_api")


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        ("broker_alpacca", ALPACA, "unknown name; did you mean broker_alpaca"),
        ("broker_alpaca", {"api_key": "AKBADINPUT01"}, "missing field 'secret_key'"),
        ("broker_alpaca", {**ALPACA, "secrt": "x"}, "unknown field 'secrt'"),
        ("broker_alpaca", {"api_key": 12345, "secret_key": "SKX"}, "field 'api_key': expected text, got int"),
        ("broker_alpaca", ["AKBADINPUT01"], "expected a JSON object"),
        (
            "notifier_smtp",
            {
                "host": "smtp.example.invalid",
                "port": "PORTSECRETVALUE",
                "username": "u",
                "password": "p",
                "from": "a@example.invalid",
                "to": "b@example.invalid",
                "starttls": "true",
            },
            "field 'port': expected a port",
        ),
        ("notifier_webhook", {"url": "ftp://x"}, "field 'url': expected an http"),
        ("screener_api", {"api_key": ""}, "field 'api_key': expected non-empty text"),
    ],
)
def test_bad_secret_input_is_refused_naming_the_field_and_nothing_is_written(bot_home, name, data, message):
    with pytest.raises(ConfigError, match=message) as caught:
        SecretStore(bot_home).set(name, data)
    assert "PORTSECRETVALUE" not in str(caught.value) and "AKBADINPUT01" not in str(caught.value)
    assert bot_home.vault.current_generation() == 1


def test_delete_removes_the_secret_and_keeps_it_in_an_encrypted_backup(bot_home):
    store = SecretStore(bot_home)
    store.set("screener_api", {"api_key": "FINNHUBDELETE01"})
    old_key = bot_home.vault.key_bytes()
    store.delete("screener_api")
    assert store.names() == []
    newest = bot_home.paths.vault_backups()[-1]
    files = open_backup(newest, bot_home.vault.fernet())
    restored = Fernet(old_key).decrypt(files[HomePaths.secret_rel("screener_api")])
    assert b"FINNHUBDELETE01" in restored
    with bot_home.audit(readonly=True) as audit:
        assert [row.event for row in audit.tail(1, category="secrets")] == ["secret_deleted"]


def test_delete_of_a_secret_that_is_not_set_fails_without_rotating(bot_home):
    with pytest.raises(SecurityError, match="not set, nothing to delete"):
        SecretStore(bot_home).delete("broker_ibkr")
    assert bot_home.vault.current_generation() == 1
