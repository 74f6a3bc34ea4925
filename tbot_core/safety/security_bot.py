"""security_bot: proves at launch that the vault is whole, private and decryptable.

Runs first in the startup pipeline (right after the home's own checks).  It
finishes any interrupted key rotation, then looks for everything that should
block launch: a plaintext ``.env_bot`` in production, a key or secret file
that group or others can read, a key that does not match its generation, and
any artifact (config, identity, secrets, ledger files) that does not decrypt.
Each problem is one sanitized line naming the file; the check fails closed if
it cannot decide.
"""

from __future__ import annotations

from tbot_core.config import parse_dotenv, settings_from_text
from tbot_core.errors import TbotError
from tbot_core.fsutil import is_private
from tbot_core.home import BotHome
from tbot_core.paths import HomePaths
from tbot_core.sanitize import scrub
from tbot_core.secrets.rotation import recover
from tbot_core.secrets.store import SecretStore
from tbot_core.secrets.vault import fingerprint, read_generation_meta, used_key_fingerprints
from tbot_core.selfcheck import CheckResult

REQUIRED_ARTIFACTS = (HomePaths.CONFIG_REL, HomePaths.IDENTITY_REL)


class SecurityBot:
    name = "security_bot"

    def __init__(self, home: BotHome) -> None:
        self.home = home
        self.paths: HomePaths = home.paths
        self.warnings: list[str] = []

    def self_check(self) -> CheckResult:
        problems = self.findings()
        if problems:
            return CheckResult.failed(
                self.name,
                " | ".join(problems),
                "restore the named file (and its key) from backups/, or fix its mode with chmod 600",
            )
        detail = f"generation {self.home.vault.current_generation()}: every artifact decrypts, keys and secrets private"
        if self.warnings:
            detail += "; warning: " + "; ".join(self.warnings)
        return CheckResult.passed(self.name, detail)

    def findings(self) -> list[str]:
        """Every launch-blocking problem, one sanitized line each (empty when all is well)."""
        self.warnings = []
        try:
            recover(self.home)
        except TbotError as exc:
            return [scrub(exc.one_line())]
        problems: list[str] = []
        for step in (self._plaintext_env, self._permissions, self._key, self._artifacts):
            try:
                problems.extend(step())
            except TbotError as exc:
                problems.append(exc.one_line())
        return [scrub(" ".join(line.split())) for line in problems]

    # -- individual checks ----------------------------------------------------------------
    def _plaintext_env(self) -> list[str]:
        plain = self.paths.plaintext_env
        if not plain.exists():
            return []
        environment = settings_from_text(self.home.encrypted_settings_text(), source=".env_bot.enc").environment
        try:
            overlay = parse_dotenv(plain.read_text(encoding="utf-8"), source=".env_bot")
        except UnicodeDecodeError:
            return [".env_bot: not UTF-8 text"]
        if environment == "production" or overlay.get("ENVIRONMENT", "").lower() == "production":
            return [
                ".env_bot: plaintext config present while ENVIRONMENT=production; move it into the vault "
                "(`tbot config set`) and delete it"
            ]
        self.warnings.append(".env_bot: plaintext config overlay in use (development only)")
        self.home.warnings.append(self.warnings[-1])
        return []

    def _permissions(self) -> list[str]:
        vault = self.home.vault
        gen_dir = vault.current_dir()
        folders = [
            self.paths.vault_dir,
            self.paths.backups_dir,
            gen_dir,
            *(p for p in gen_dir.rglob("*") if p.is_dir()),
        ]
        # The current key's mode is the home stage's ``vault_key`` fact, checked before this one: not again here.
        key_file = gen_dir / HomePaths.KEY_REL
        files = [p for p in gen_dir.rglob("*") if p.is_file() and p != key_file]
        files += [p for p in (self.paths.used_keys_file, *self.paths.vault_backups()) if p.exists()]
        problems = [
            f"{vault.rel(p)}: folder open to group or others (mode {p.stat().st_mode & 0o777:o}); expected 0700"
            for p in folders
            if p.is_dir() and not is_private(p)
        ]
        problems += [
            f"{vault.rel(p)}: readable by group or others (mode {p.stat().st_mode & 0o777:o}); expected 0600"
            for p in files
            if not is_private(p)
        ]
        return problems

    def _key(self) -> list[str]:
        vault = self.home.vault
        gen_dir = vault.current_dir()
        key = vault.key_bytes(gen_dir)
        key_name = vault.rel(gen_dir / HomePaths.KEY_REL)
        problems = []
        if read_generation_meta(gen_dir).get("key_fingerprint") != fingerprint(key):
            problems.append(f"{key_name}: does not match the fingerprint in generation.json (wrong or swapped key)")
        if fingerprint(key) not in used_key_fingerprints(self.paths):
            problems.append(f"{key_name}: not in vault/used_keys.json (key not created by this home)")
        return problems

    def _artifacts(self) -> list[str]:
        vault = self.home.vault
        gen_dir = vault.current_dir()
        problems = [f"vault/current/{rel}: missing" for rel in REQUIRED_ARTIFACTS if not (gen_dir / rel).exists()]
        store = SecretStore(self.home)
        for rel in vault.artifacts(gen_dir):
            try:
                if rel.parent == HomePaths.SECRETS_REL:
                    store.info(rel.name.removesuffix(".json.enc"))
                else:
                    vault.read(rel)
            except TbotError as exc:
                problems.append(str(exc))
        return problems


def security_checks(home: BotHome) -> list[SecurityBot]:
    """Factory for the startup pipeline's registry."""
    return [SecurityBot(home)]
