"""The simulator's bot home: built once per process with ``init_home``, copied per seed (a copy is ~ms).

It is a real encrypted paper home with sim-friendly timings (sim seconds, so
short values cost nothing real), two planted secrets (the notifier's SMTP
password and webhook token, stored encrypted through ``SecretStore``) and,
per seed, bar data that crosses a UTC midnight (a new trading day, a new
start-of-day equity for the kill switch) with an optional 30 % price crash.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import random
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tbot_core.secrets.store import SecretStore

SYMBOLS = ("SPY", "AAPL", "MSFT", "NVDA")
MINUTES = 12  # 48 bars; the 11th minute is 00:00 UTC
START = 1767743400  # 2026-01-06T23:50:00Z
SETTINGS = {
    "REPLAY_SPEED": "0",
    "WATCHDOG_INTERVAL_SECONDS": "1",
    "WATCHDOG_BROKER_TIMEOUT_SECONDS": "3",
    "WATCHDOG_FEED_TIMEOUT_SECONDS": "4",
    "API_RETRY_LIMIT": "2",
    "API_RETRY_BASE_SECONDS": "0.2",
    "API_RETRY_MAX_SECONDS": "1",
    "RESTART_BACKOFF_SECONDS": "1",
    "RESTART_MAX_ATTEMPTS": "3",
    "RESTART_WINDOW_SECONDS": "600",
    "SUPERVISOR_STOP_GRACE_SECONDS": "5",
    "WORKER_STALL_SECONDS": "8",
    "SYMBOLS": ",".join(SYMBOLS),
    "ADX_FILTER_ENABLED": "false",
    "BOLLINGER_CONFLUENCE_ENABLED": "false",
    "MAX_OPEN_POSITIONS": "100",
    "ALLOC_MID": "1.0",
    "ALLOC_OPEN": "0",
    "ALLOC_CLOSE": "0",
    "DAILY_LOSS_LIMIT": "300",
}


@dataclass(frozen=True)
class Secrets:
    smtp_password: str
    webhook_token: str

    @property
    def leak(self) -> str:
        """What a careless upstream error message would echo back; the core must scrub it everywhere."""
        return f"password={self.smtp_password}"

    def values(self) -> tuple[str, ...]:
        return (self.smtp_password, self.webhook_token)


SECRETS = Secrets("sim-pw-Q7r2xK9vLm", "sim-tok-Zp4Wn8cYe1")


class SimHome:
    """A template home on disk; ``copy_to`` gives each seed its own."""

    _shared: SimHome | None = None

    def __init__(self, root: Path) -> None:
        self.root = root
        paths, _ = init_home(root)
        paths.plaintext_env.write_text("".join(f"{k}={v}\n" for k, v in SETTINGS.items()))
        store = SecretStore(BotHome(str(root)))
        store.set(
            "notifier_smtp",
            {
                "host": "127.0.0.1",
                "port": "9",
                "username": "bot",
                "password": SECRETS.smtp_password,
                "from": "bot@example.test",
                "to": "ops@example.test",
                "starttls": "false",
            },
        )
        store.set("notifier_webhook", {"url": "http://127.0.0.1:9/hook", "token": SECRETS.webhook_token})
        self.fernet_key = paths.key_file.read_text().strip()

    @classmethod
    def shared(cls) -> SimHome:
        if cls._shared is None:
            folder = Path(tempfile.mkdtemp(prefix="tbot-sim-template-", dir=tmp_root()))
            atexit.register(shutil.rmtree, folder, True)
            cls._shared = cls(folder / "home")
        return cls._shared

    def secret_values(self) -> tuple[str, ...]:
        return (*SECRETS.values(), self.fernet_key)

    def copy_to(self, root: Path) -> None:
        shutil.copytree(self.root, root, symlinks=True)


def write_bars(root: Path, seed: int, crash_at_bar: int | None, start: int = START) -> set[str]:
    """One bar per symbol per minute from ``start`` (23:50 UTC), a seeded random walk, maybe a crash from one bar on.

    Returns the UTC dates the bars fall on: the only days the core may file anything under.
    """
    paths = HomePaths(root)
    rng = random.Random(seed * 7919 + 1)
    prices = {sym: 100.0 + 20 * i for i, sym in enumerate(SYMBOLS)}
    lines, vix = ["timestamp_utc,symbol,open,high,low,close,volume"], ["timestamp_utc,vix"]
    n = 0
    for minute in range(MINUTES):
        ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(start + 60 * minute))
        vix.append(f"{ts},18.00")
        for sym in SYMBOLS:
            prices[sym] *= 1 + rng.uniform(-0.002, 0.002)
            p = prices[sym] * (0.7 if crash_at_bar is not None and n >= crash_at_bar else 1.0)
            lines.append(f"{ts},{sym},{p:.2f},{p + 0.05:.2f},{p - 0.05:.2f},{p:.2f},1000")
            n += 1
    paths.sample_ohlcv.write_text("\n".join(lines) + "\n")
    paths.sample_vix.write_text("\n".join(vix) + "\n")
    return {line[:10] for line in vix[1:]}


def release_lock_fds(path: Path) -> None:
    """Point every descriptor this process holds on ``path`` at /dev/null: the flock goes, the numbers stay valid."""
    target = str(path)
    null = os.open(os.devnull, os.O_RDWR)
    try:
        for name in os.listdir("/proc/self/fd"):
            with contextlib.suppress(OSError):
                if os.readlink(f"/proc/self/fd/{name}") == target:
                    os.dup2(null, int(name))
    finally:
        os.close(null)


def tmp_root() -> str | None:
    """tmpfs when there is one: the ledger syncs on every commit, and a seed commits a few hundred times."""
    return "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
