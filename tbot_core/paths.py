"""The one place that knows where things live in a bot home.

Every other module asks this one for a path, so the layout can change in one
file and a test can prove nobody builds a path by hand.  Nothing here touches
the disk except :func:`ensure_layout`, which creates folders with safe modes.

Layout of ``TBOT_HOME`` (default ``./tbot_home``)::

    .env_bot                         plaintext config (development only)
    vault/current -> gen-000001      symlink switched atomically by key rotation
    vault/gen-NNNNNN/keys/fernet.key the Fernet key of that generation (0600)
    vault/gen-NNNNNN/config/.env_bot.enc
    vault/gen-NNNNNN/config/bot_identity.json.enc
    vault/gen-NNNNNN/secrets/NAME.json.enc
    vault/gen-NNNNNN/generation.json version metadata (no key material)
    vault/used_keys.json             fingerprints of every key ever used
    backups/                         timestamped encrypted backups
    backups/ledger-before-migrate-STAMP.db  db/ledger.db as it was before a schema migration
    control/control_NAME.STAMP.NONCE.flag  one operator/system request each (a hand-written
                                     control_NAME.flag is accepted and renamed to this form)
    control/quarantine/              garbled or unknown flags, never acted on
    db/audit.db, db/ledger.db, db/core.db
    run/state.json, run/core.lock    live state for the console; the core's lock
    output/{BOT_IDENTITY}/logs/      operational logs (verdicts, errors, system)
    output/{BOT_IDENTITY}/backtest/  backtest outputs
    output/{BOT_IDENTITY}/backtest/sweeps/{strategy}-{hash}/  one parameter sweep (runs.csv, runs.parquet,
                                     best.json, heatmap.png, walk_forward.csv, journal.jsonl, sweep.json)
    data/market/                     OHLCV + VIX data (sample data ships here); fundamentals.csv for backtests;
                                     vix.csv for VIX_SOURCE=file
    data/cache/                      caches such as fundamentals_{date}.json
"""

from __future__ import annotations

import os
import re
from datetime import date
from pathlib import Path

from tbot_core.paths_output import OutputPaths

HOME_ENV = "TBOT_HOME"
DEFAULT_HOME = "tbot_home"

_SECRET_NAME_RE = re.compile(r"^[a-z][a-z0-9_]{0,63}$")
_FLAG_NAME_RE = re.compile(r"^[a-z][a-z_]{0,31}$")
_FLAG_STAMP_RE = re.compile(r"^\d{8}T\d{12}Z$")
_FLAG_NONCE_RE = re.compile(r"^[0-9a-f]{32}$")
# control_NAME.flag (legacy, hand-written) or control_NAME.STAMP.NONCE.flag (one file per request)
FLAG_FILE_RE = re.compile(
    r"^control_(?P<flag>[a-z][a-z_]{0,31})(?:\.(?P<stamp>\d{8}T\d{12}Z)\.(?P<nonce>[0-9a-f]{32}))?\.flag$"
)

FOLDER_MODE = 0o700
FILE_MODE = 0o600


def home_backup(root: Path, stamp: str) -> Path:
    """Where ``tbot init --force`` moves the home it replaces (a sibling folder)."""
    return root.with_name(f"{root.name}.backup-{stamp}")


def backtest_scratch_home(temp_dir: str | os.PathLike[str]) -> Path:
    """The throw-away bot home a live-engine backtest runs the core in (inside a temporary folder)."""
    return Path(temp_dir) / "home"


def offline_home(temp_dir: str | os.PathLike[str]) -> Path:
    """A home root that is never read or written: the fast backtest's gate runs with ``persist=False``."""
    return Path(temp_dir) / "tbot-fast-engine-unused"


def home(explicit: str | os.PathLike[str] | None = None) -> Path:
    """The bot home: an explicit argument wins, then ``TBOT_HOME``, then ``./tbot_home``."""
    raw = explicit if explicit is not None else os.environ.get(HOME_ENV) or DEFAULT_HOME
    return Path(raw).expanduser().absolute()


class HomePaths(OutputPaths):
    """Paths of one bot home. Cheap to build; holds no open files."""

    __slots__ = ("root",)

    def __init__(self, root: str | os.PathLike[str] | None = None) -> None:
        self.root = home(root)

    def __repr__(self) -> str:
        return f"HomePaths({str(self.root)!r})"

    # -- configuration -------------------------------------------------------
    @property
    def plaintext_env(self) -> Path:
        return self.root / ".env_bot"

    @property
    def test_env(self) -> Path:
        return self.root / ".env_bot.test"

    # -- the encrypted vault (one generation is current) ---------------------
    @property
    def vault_dir(self) -> Path:
        return self.root / "vault"

    @property
    def current_link(self) -> Path:
        return self.vault_dir / "current"

    def generation_dir(self, number: int) -> Path:
        return self.vault_dir / f"gen-{number:06d}"

    def generation_staging_dir(self, number: int) -> Path:
        return self.vault_dir / f"gen-{number:06d}.staging"

    @property
    def current_link_staging(self) -> Path:
        return self.vault_dir / "current.staging"

    @property
    def used_keys_file(self) -> Path:
        return self.vault_dir / "used_keys.json"

    @property
    def vault_lock_file(self) -> Path:
        return self.vault_dir / "vault.lock"

    # Relative names inside a generation folder; the vault module joins them.
    KEY_REL = Path("keys") / "fernet.key"
    CONFIG_REL = Path("config") / ".env_bot.enc"
    IDENTITY_REL = Path("config") / "bot_identity.json.enc"
    SECRETS_REL = Path("secrets")
    LEDGER_FILES_REL = Path("ledger")
    GENERATION_META_REL = Path("generation.json")

    @property
    def key_file(self) -> Path:
        return self.current_link / self.KEY_REL

    @property
    def encrypted_config(self) -> Path:
        return self.current_link / self.CONFIG_REL

    @property
    def identity_file(self) -> Path:
        return self.current_link / self.IDENTITY_REL

    @property
    def secrets_dir(self) -> Path:
        return self.current_link / self.SECRETS_REL

    def secret_file(self, name: str) -> Path:
        return self.current_link / self.secret_rel(name)

    @classmethod
    def secret_rel(cls, name: str) -> Path:
        if not _SECRET_NAME_RE.match(name):
            raise ValueError(f"secret name {name!r}: expected lowercase letters, digits and _")
        return cls.SECRETS_REL / f"{name}.json.enc"

    @property
    def generation_meta(self) -> Path:
        return self.current_link / self.GENERATION_META_REL

    # -- backups ---------------------------------------------------------------
    @property
    def backups_dir(self) -> Path:
        return self.root / "backups"

    def backup_path(self, label: str, stamp: str) -> Path:
        return self.backups_dir / f"{label}-{stamp}"

    def ledger_backup(self, stamp: str) -> Path:
        """The ledger as it was before ``tbot ledger migrate`` changed it (plain SQLite, like db/ledger.db)."""
        return self.backups_dir / f"ledger-before-migrate-{stamp}.db"

    def vault_backup(self, generation: int, stamp: str) -> Path:
        """An old generation, tarred and encrypted with the key of the generation after it."""
        return self.backups_dir / f"vault-gen-{generation:06d}-{stamp}.tar.enc"

    def vault_backups(self) -> list[Path]:
        """Every vault backup, oldest generation first."""
        return sorted(self.backups_dir.glob("vault-gen-*.tar.enc"))

    # -- control flags ---------------------------------------------------------
    @property
    def control_dir(self) -> Path:
        return self.root / "control"

    @property
    def quarantine_dir(self) -> Path:
        return self.control_dir / "quarantine"

    def quarantine_file(self, name: str, stamp: str) -> Path:
        return self.quarantine_dir / f"{name}.{stamp}"

    @property
    def control_probe(self) -> Path:
        return self.control_dir / ".probe"

    @property
    def control_lock(self) -> Path:
        """Serialises flag writers so the order of requested times is the order files appear in."""
        return self.control_dir / ".lock"

    def flag_file(self, name: str) -> Path:
        """The plain legacy name an operator may write by hand (``control_stop.flag``)."""
        if not _FLAG_NAME_RE.match(name):
            raise ValueError(f"flag name {name!r}: expected lowercase letters and _")
        return self.control_dir / f"control_{name}.flag"

    def flag_request_file(self, name: str, request_stamp: str, nonce: str) -> Path:
        """One file per request, so two requests of the same flag never replace each other."""
        if not _FLAG_NAME_RE.match(name):
            raise ValueError(f"flag name {name!r}: expected lowercase letters and _")
        if not _FLAG_STAMP_RE.match(request_stamp) or not _FLAG_NONCE_RE.match(nonce):
            raise ValueError("flag request: expected a YYYYMMDDTHHMMSSffffffZ stamp and a 32-hex-digit nonce")
        return self.control_dir / f"control_{name}.{request_stamp}.{nonce}.flag"

    # -- databases -------------------------------------------------------------
    @property
    def db_dir(self) -> Path:
        return self.root / "db"

    @property
    def audit_db(self) -> Path:
        return self.db_dir / "audit.db"

    @property
    def ledger_db(self) -> Path:
        return self.db_dir / "ledger.db"

    @property
    def core_db(self) -> Path:
        """Engine state that must survive a restart: kill switch, paper account."""
        return self.db_dir / "core.db"

    # -- live runtime files ------------------------------------------------------
    @property
    def run_dir(self) -> Path:
        return self.root / "run"

    @property
    def state_file(self) -> Path:
        return self.run_dir / "state.json"

    @property
    def core_lock(self) -> Path:
        return self.run_dir / "core.lock"

    @property
    def session_file(self) -> Path:
        """Per-session engine memory (ticker blocklist) that survives a restart."""
        return self.run_dir / "session.json"

    # -- data -----------------------------------------------------------------------
    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def market_data_dir(self) -> Path:
        return self.data_dir / "market"

    @property
    def sample_ohlcv(self) -> Path:
        return self.market_data_dir / "sample_ohlcv.csv"

    @property
    def sample_vix(self) -> Path:
        return self.market_data_dir / "sample_vix.csv"

    @property
    def vix_file(self) -> Path:
        """A VIX series (timestamp_utc,vix) kept current by the operator: ``VIX_SOURCE=file`` (e.g. for Alpaca)."""
        return self.market_data_dir / "vix.csv"

    @property
    def fundamentals_history(self) -> Path:
        """Dated fundamentals (date,symbol,pe,debt_equity,market_cap) a backtest reads point-in-time."""
        return self.market_data_dir / "fundamentals.csv"

    @property
    def cache_dir(self) -> Path:
        return self.data_dir / "cache"

    def fundamentals_cache(self, day: date) -> Path:
        return self.cache_dir / f"fundamentals_{day.isoformat()}.json"

    # -- layout -------------------------------------------------------------------
    def folders(self) -> list[Path]:
        """Folders every home must have (the vault's generations are made by the vault)."""
        return [
            self.root,
            self.vault_dir,
            self.backups_dir,
            self.control_dir,
            self.quarantine_dir,
            self.db_dir,
            self.run_dir,
            self.data_dir,
            self.market_data_dir,
            self.cache_dir,
        ]

    def ensure_layout(self, identity: str | None = None) -> None:
        extra = (
            [self.root / "output", self.output_dir(identity), self.logs_dir(identity), self.backtest_dir(identity)]
            if identity
            else []
        )
        for folder in [*self.folders(), *extra]:
            folder.mkdir(parents=True, exist_ok=True)
            os.chmod(folder, FOLDER_MODE)


# -- package resources (read-only files shipped with the code) -----------------------
PACKAGE_DIR = Path(__file__).resolve().parent
PROJECT_DIR = PACKAGE_DIR.parent


def audit_anchor(audit_db: Path) -> Path:
    """The audit log's head anchor, beside its database (so a truncated tail is detectable)."""
    return audit_db.with_name(audit_db.name + ".head")


def package_sample_data(name: str) -> Path:
    return PACKAGE_DIR / "sample_data" / name


def package_resource(*parts: str) -> Path:
    return PACKAGE_DIR.joinpath(*parts)


def stylesheet() -> Path:
    """The console's one stylesheet.

    The source of truth is ``tbot.tcss`` at the repository's top level;
    ``tbot_tui/tbot.tcss`` is a symlink to it, which the wheel build turns into
    a real file inside the package, so the same path works in a clone and in an
    installed wheel (``tbot_core`` and ``tbot_tui`` are siblings in both).
    """
    return PROJECT_DIR / "tbot_tui" / "tbot.tcss"


def temp_sibling(path: Path, tag: str) -> Path:
    """A temporary name next to ``path`` on the same filesystem, for write-then-rename."""
    return path.with_name(f".{path.name}.{tag}.tmp")
