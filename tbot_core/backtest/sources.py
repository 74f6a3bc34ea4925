"""Where a backtest gets its config, identity and data — read-only, nothing written.

Config: the home's own config (the defaults when there is no home), with the keys of
``--config FILE`` (a plaintext ``.env_bot``/``.env_bot.test``) laid over it.  Data: ``--data``,
else the home's sample bars with the sample VIX series attached.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from tbot_core.backtest.data import DataError, SymbolBars
from tbot_core.config import Settings, parse_dotenv, render_env, settings_from_text
from tbot_core.errors import ConfigError, TbotError
from tbot_core.home import BotHome
from tbot_core.identity import Identity
from tbot_core.paths import HomePaths

FALLBACK_IDENTITY = "TBOT_BACKTEST"


def load_settings(paths: HomePaths, config_file: str | None) -> Settings:
    """The home's config (defaults without a home), with ``--config FILE``'s keys laid over it.

    The overlay is validated as a whole (e.g. the allocations' sum), and an error names the file.
    """
    base = BotHome(str(paths.root)).settings if paths.current_link.exists() else Settings()
    if not config_file:
        return base
    path = Path(config_file)
    try:
        text = path.read_text(encoding="utf-8")
    except (FileNotFoundError, IsADirectoryError):
        raise ConfigError(f"--config: {path.name}: config file not found") from None
    except UnicodeDecodeError:
        raise ConfigError(f"--config: {path.name}: not UTF-8 text") from None
    overlay = parse_dotenv(text, source=path.name)
    return settings_from_text(render_env({**base.to_env(), **overlay}), source=path.name)


def resolve_identity(paths: HomePaths) -> Identity:
    """The home's identity (its jurisdiction sets the BSM rate); a neutral one without a home."""
    if paths.current_link.exists():
        try:
            return BotHome(str(paths.root)).identity
        except TbotError:
            pass
    return Identity(FALLBACK_IDENTITY, "US", "PAPER")


def resolve_data(paths: HomePaths, data_file: str | None) -> tuple[Path, Path | None]:
    if data_file:
        return Path(data_file), None
    if not paths.sample_ohlcv.exists():
        raise ConfigError(
            "--data: no file given and the home has no sample data", hint="pass --data FILE or run `tbot init`"
        )
    return paths.sample_ohlcv, paths.sample_vix if paths.sample_vix.exists() else None


def attach_vix(bars: dict[str, SymbolBars], vix_file: Path) -> dict[str, SymbolBars]:
    """Give every symbol the VIX level in force at each of its bars (latest at or before)."""
    try:
        frame = pd.read_csv(vix_file, dtype=str, keep_default_na=False)
    except (OSError, ValueError):
        raise DataError(f"{vix_file.name}: not a readable CSV") from None
    if "timestamp_utc" not in frame.columns or "vix" not in frame.columns:
        raise DataError(f"{vix_file.name}: missing column 'timestamp_utc' or 'vix'")
    if frame.empty:  # a header only: no VIX level is known, and the VIX gatekeeper judges that as it does live
        return bars
    ts = pd.to_datetime(frame["timestamp_utc"], utc=True, errors="coerce", format="ISO8601")
    level = pd.to_numeric(frame["vix"], errors="coerce")
    bad = (ts.isna() | level.isna() | (level <= 0)).to_numpy()
    if bad.any():
        line = int(np.argmax(bad)) + 2
        raise DataError(f"{vix_file.name}:{line}: column 'vix': expected a UTC time and a positive level")
    order = np.argsort(ts.to_numpy(dtype="datetime64[ns]"), kind="stable")
    vix_ts = ts.to_numpy(dtype="datetime64[ns]")[order]
    vix_level = level.to_numpy(dtype=float)[order]
    out = {}
    for symbol, series in bars.items():
        pos = np.searchsorted(vix_ts, series.ts, side="right") - 1
        attached = np.where(pos >= 0, vix_level[np.maximum(pos, 0)], np.nan)
        out[symbol] = SymbolBars(
            series.symbol, series.ts, series.open, series.high, series.low, series.close, series.volume, attached
        )
    return out
