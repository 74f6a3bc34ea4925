"""``tbot init``: a complete paper-mode bot home, created without questions.

Everything is written first into a staging folder beside the target and moved
into place with one rename, so an interrupted init never leaves a half home.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

from tbot_core.audit import AuditLog
from tbot_core.config import default_env_text
from tbot_core.errors import TbotError
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
) -> tuple[HomePaths, Path | None]:
    """Create the home; returns its paths and, with ``force``, where the old one was kept."""
    target = HomePaths(root)
    ident = Identity.build(identity.upper(), jurisdiction.upper(), "PAPER", source="tbot init")
    if target.root.exists() and any(target.root.iterdir()):
        if not force:
            raise TbotError(
                f"{target.root.name}: a bot home already exists here",
                hint="use --force to replace it (a backup is kept)",
            )
    staging = HomePaths(target.root.with_name(f".{target.root.name}.init-{stamp()}"))
    try:
        _build(staging, ident)
        backup = None
        if target.root.exists():
            backup = home_backup(target.root, stamp())
            os.replace(target.root, backup)
        os.replace(staging.root, target.root)
    except BaseException:
        shutil.rmtree(staging.root, ignore_errors=True)
        raise
    return target, backup


def _build(paths: HomePaths, ident: Identity) -> None:
    paths.root.mkdir(mode=FOLDER_MODE, parents=True)
    paths.ensure_layout(ident.BOT_IDENTITY)
    Vault(paths).create(
        {HomePaths.CONFIG_REL: default_env_text().encode(), HomePaths.IDENTITY_REL: ident.to_json()},
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
