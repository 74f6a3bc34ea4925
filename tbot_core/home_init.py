"""``tbot init``: a complete paper-mode bot home, created without questions.

Everything is written first into a staging folder beside the target and moved
into place with one rename, so an interrupted init never leaves a half home.
The arguments are checked before anything is written: a jurisdiction with no
Black-Scholes risk-free rate in ``BSM_RISK_FREE_RATES`` is refused (the
filter could not price an option, and the home would never pass its checks)
unless ``risk_free_rate`` supplies one.
"""

from __future__ import annotations

import os
import shutil
from decimal import Decimal
from pathlib import Path

from tbot_core import config_types as t
from tbot_core.audit import AuditLog
from tbot_core.config import Settings, default_env_text
from tbot_core.errors import ConfigError, TbotError
from tbot_core.identity import Identity
from tbot_core.ledger.schema import create_schema
from tbot_core.paths import FOLDER_MODE, HomePaths, home_backup, package_sample_data
from tbot_core.secrets.vault import Vault
from tbot_core.timeutil import stamp

SAMPLE_FILES = ("sample_ohlcv.csv", "sample_vix.csv")


def _database_initialisers() -> list:
    """Callables ``(HomePaths) -> None`` that create each database's schema."""
    return [lambda p: AuditLog(p.audit_db).close(), lambda p: create_schema(p.ledger_db)]


def init_home(
    root: str | os.PathLike[str] | None,
    *,
    force: bool = False,
    identity: str = "TBOT_PAPER_01",
    jurisdiction: str = "US",
    risk_free_rate: str | Decimal | None = None,
) -> tuple[HomePaths, Path | None]:
    """Create the home; returns its paths and, with ``force``, where the old one was kept."""
    target = HomePaths(root)
    ident = Identity.build(identity.upper(), jurisdiction.upper(), "PAPER", source="tbot init")
    settings = initial_settings(ident.JURISDICTION_CODE, risk_free_rate)
    if target.root.exists() and any(target.root.iterdir()):
        if not force:
            raise TbotError(
                f"{target.root.name}: a bot home already exists here",
                hint="use --force to replace it (a backup is kept)",
            )
    staging = HomePaths(target.root.with_name(f".{target.root.name}.init-{stamp()}"))
    try:
        _build(staging, ident, settings)
        backup = None
        if target.root.exists():
            backup = home_backup(target.root, stamp())
            os.replace(target.root, backup)
        os.replace(staging.root, target.root)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        raise
    return target, backup


def initial_settings(code: str, risk_free_rate: str | Decimal | None = None) -> Settings:
    """The new home's config: the defaults, with ``code:risk_free_rate`` added to BSM_RISK_FREE_RATES if given."""
    settings = Settings()
    rates = settings.bsm_risk_free_rates
    if risk_free_rate is not None:
        try:
            rate = t.rate_table(f"{code}:{risk_free_rate}")[code]
        except ValueError as exc:
            raise ConfigError(f"--risk-free-rate: {exc}") from None
        return settings.with_values({"BSM_RISK_FREE_RATES": t.render({**rates, code: rate})})
    if code not in rates:
        raise ConfigError(
            f"--jurisdiction {code}: BSM_RISK_FREE_RATES has no Black-Scholes risk-free rate for {code} "
            f"(it has {', '.join(rates)}); nothing was created",
            hint=f"add {code}:RATE to BSM_RISK_FREE_RATES by rerunning with --risk-free-rate RATE, e.g. 0.03",
        )
    return settings


def _build(paths: HomePaths, ident: Identity, settings: Settings) -> None:
    paths.root.mkdir(mode=FOLDER_MODE, parents=True)
    paths.ensure_layout(ident.BOT_IDENTITY)
    Vault(paths).create(
        {HomePaths.CONFIG_REL: default_env_text(settings).encode(), HomePaths.IDENTITY_REL: ident.to_json()},
        initiator="operator",
    )
    for name in SAMPLE_FILES:
        shutil.copyfile(package_sample_data(name), paths.market_data_dir / name)
    for make_schema in _database_initialisers():
        make_schema(paths)
    with AuditLog(paths.audit_db) as audit:
        audit.append(
            "home",
            "home_initialised",
            {"identity": ident.BOT_IDENTITY, "broker": "paper", "mode": "paper"},
            actor="operator",
        )
