"""Atomic key rotation of a home holding 200 secrets vs. raw Fernet re-encrypt + fsync of the same bytes.

The peer does only the unavoidable work: decrypt every artifact with the old
key, encrypt it with a new one and write it durably (write + fsync per file),
with no staging folder, backup, key registry, symlink switch or audit row.
Both run in this process on the same home; the ratio is rotation / peer
(target <= 2).  Prints the median of several runs of each.
"""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

from cryptography.fernet import Fernet

from tbot_core.fsutil import write_bytes_durable
from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tbot_core.secrets.rotation import rotate

SECRETS = 200
RUNS = 5


def _fill(home: BotHome) -> None:
    """200 secret files (the five known names are validated; the bench writes raw records under numbered names)."""
    changes = {
        HomePaths.secret_rel(f"bench_secret_{i:03d}"): json.dumps(
            {
                "fields": {"api_key": f"K{i:06d}" * 6, "secret_key": f"S{i:06d}" * 8},
                "version": 1,
                "updated_utc": "2026-01-01T00:00:00.000000Z",
            }
        ).encode()
        for i in range(SECRETS)
    }
    rotate(home, initiator="system", changes=changes)


def _raw_peer(home: BotHome, scratch: Path) -> float:
    gen_dir = home.vault.current_dir()
    old = Fernet(home.vault.key_bytes())
    new = Fernet(Fernet.generate_key())
    artifacts = list(home.vault.artifacts(gen_dir))
    began = time.perf_counter()
    for number, rel in enumerate(artifacts):
        write_bytes_durable(
            scratch.with_name(f"{scratch.name}{number}"), new.encrypt(old.decrypt((gen_dir / rel).read_bytes()))
        )
    return time.perf_counter() - began


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="tbot-bench-rotate-") as tmp:
        paths, _ = init_home(Path(tmp).joinpath("home"))
        home = BotHome(str(paths.root))
        _fill(home)
        scratch_dir = Path(tmp).joinpath("scratch")
        scratch_dir.mkdir()
        artifacts = len(list(home.vault.artifacts()))
        rotations, peers = [], []
        for run in range(RUNS):
            peers.append(_raw_peer(home, scratch_dir.joinpath(f"run{run}-")))
            began = time.perf_counter()
            rotate(home, initiator="system")
            rotations.append(time.perf_counter() - began)
        rot, peer = statistics.median(rotations), statistics.median(peers)
        print(f"home with {SECRETS} secrets ({artifacts} encrypted artifacts), median of {RUNS} runs")
        print(f"  atomic rotation (staging, fsync, backup, switch, audit): {rot * 1000:8.1f} ms")
        print(f"  raw Fernet re-encrypt + fsync of the same bytes:        {peer * 1000:8.1f} ms")
        print(f"  ratio rotation / raw: {rot / peer:.2f}  (target <= 2)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
