"""A bot home opened for use: paths, vault, settings and identity in one place.

Loading is lazy and every failure is a one-line ``TbotError`` naming the file,
so commands that only need paths (``tbot control``) work even when the vault
is damaged, and commands that need the config fail with a clear cause.
"""

from __future__ import annotations

import sys
from functools import cached_property

from tbot_core.audit import AuditLog
from tbot_core.config import Settings, parse_dotenv, render_env, settings_from_text
from tbot_core.errors import ConfigError, SecurityError, TbotError
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths
from tbot_core.secrets.vault import Vault


class BotHome:
    def __init__(self, root: str | None = None) -> None:
        self.paths = HomePaths(root)
        self.vault = Vault(self.paths)
        self.warnings: list[str] = []

    def require_exists(self) -> None:
        if not self.paths.root.is_dir():
            raise TbotError(f"bot home {self.paths.root.name!r} does not exist", hint="run `tbot init` first")
        if not self.vault.exists():
            raise SecurityError(
                "vault/current: missing; this home has no keys or encrypted config",
                hint="run `tbot init --force` to recreate the home (a backup is kept)",
            )

    # -- configuration -------------------------------------------------------------------
    def encrypted_settings_text(self) -> str:
        raw = self.vault.read(HomePaths.CONFIG_REL)
        try:
            return raw.decode("utf-8")
        except UnicodeDecodeError:
            raise ConfigError(".env_bot.enc: decrypted content is not UTF-8 text") from None

    @cached_property
    def settings(self) -> Settings:
        self.require_exists()
        base_text = self.encrypted_settings_text()
        settings = settings_from_text(base_text, source=".env_bot.enc")
        plain = self.paths.plaintext_env
        if plain.exists():
            if settings.environment == "production":
                raise SecurityError(
                    ".env_bot: plaintext config present while ENVIRONMENT=production",
                    hint="move its values into the vault with `tbot config set`, then delete .env_bot",
                )
            try:
                overlay = plain.read_text(encoding="utf-8")
            except UnicodeDecodeError:
                raise ConfigError(".env_bot: not UTF-8 text") from None
            settings = settings_from_text(_merge_env(base_text, overlay), source=".env_bot")
            if settings.environment == "production":
                raise SecurityError(".env_bot: plaintext config may not switch ENVIRONMENT to production")
            self.warnings.append(".env_bot: plaintext config overlay in use (development only)")
        return settings

    @cached_property
    def identity(self) -> Identity:
        self.require_exists()
        return Identity.parse(self.vault.read(HomePaths.IDENTITY_REL), source="bot_identity.json.enc")

    def audit(self, *, readonly: bool = False) -> AuditLog:
        self.paths.db_dir.mkdir(parents=True, exist_ok=True)
        return AuditLog(self.paths.audit_db, readonly=readonly)

    def save_settings_text(self, text: str) -> None:
        """Validate then encrypt a full ``.env_bot`` text (callers audit and rotate)."""
        settings_from_text(text, source=".env_bot (new)")
        self.vault.write(HomePaths.CONFIG_REL, text.encode("utf-8"))
        self.__dict__.pop("settings", None)

    def warn(self, message: str) -> None:
        print(f"warning: {message}", file=sys.stderr)


def _merge_env(base: str, overlay: str) -> str:
    """The encrypted config with the plaintext keys laid over it."""
    over = parse_dotenv(overlay, source=".env_bot")
    return render_env({**parse_dotenv(base, source=".env_bot.enc"), **over})
