"""Full-speed replay through the whole pipeline: ticks/s and peak memory at 100k and 1M ticks.

Pipeline: replay feed -> real strategies (+ a scripted signal every 50 bars) -> real gate ->
risk -> kill switch -> paper broker (core.db) -> ledger.  Peer measured in the same run:
a bare ``csv.reader`` pass over the same file (the floor any replay must pay).
Targets: >= 20,000 ticks/s; traced peak memory growth < 10% from 100k to 1M ticks.
Run: ``.venv/bin/python bench/engine.py [--sizes 100000,1000000]``.
"""

from __future__ import annotations

import argparse
import csv
import sys
import tempfile
import time
import tracemalloc
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core.audit import AuditLog  # noqa: E402
from tbot_core.brokers.paper import PaperBroker  # noqa: E402
from tbot_core.core_store import CoreStore  # noqa: E402
from tbot_core.data.replay import ReplayFeed  # noqa: E402
from tbot_core.home import BotHome  # noqa: E402
from tbot_core.home_init import init_home  # noqa: E402
from tbot_core.runtime.context import CoreContext, LockedAudit, Matrix  # noqa: E402
from tbot_core.runtime.engine import Engine, EngineControl  # noqa: E402
from tbot_core.runtime.pipeline_parts import build_gate, build_strategies  # noqa: E402
from tbot_core.safety.error_handler import ErrorHandler  # noqa: E402
from tbot_core.safety.kill_switch import KillSwitch  # noqa: E402
from tbot_core.safety.notifier_bot import Notifier  # noqa: E402
from tbot_core.safety.risk_bot import RiskBot  # noqa: E402
from tbot_core.syslog import SystemLog  # noqa: E402

SYMBOLS = ("SPY", "AAPL", "MSFT", "NVDA")


def write_data(home: Path, ticks: int) -> None:
    base = 1767623400
    with open(home / "data/market/sample_ohlcv.csv", "w") as out, open(home / "data/market/sample_vix.csv", "w") as vix:
        out.write("timestamp_utc,symbol,open,high,low,close,volume\n")
        vix.write("timestamp_utc,vix\n")
        for minute in range(ticks // len(SYMBOLS)):
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 60 * minute))
            vix.write(f"{ts},18.00\n")
            for k, sym in enumerate(SYMBOLS):
                p = 100 + k + ((minute * 7) % 23) * 0.1
                out.write(f"{ts},{sym},{p:.2f},{p + 0.1:.2f},{p - 0.1:.2f},{p:.2f},1000\n")


def run(ticks: int) -> tuple[float, float, float]:
    with tempfile.TemporaryDirectory() as tmp:
        paths, _ = init_home(Path(tmp) / "home")
        paths.plaintext_env.write_text("REPLAY_SPEED=0\nTEST_SCRIPTED_SIGNAL_EVERY=50\nDAILY_LOSS_LIMIT=50%\n")
        write_data(paths.root, ticks)
        start = time.perf_counter()
        with open(paths.sample_ohlcv, newline="") as handle:
            floor_rows = sum(1 for _ in csv.reader(handle))
        floor = time.perf_counter() - start
        home = BotHome(str(paths.root))
        s, ident = home.settings, home.identity
        log = SystemLog(paths.system_log(ident.BOT_IDENTITY), "JSON")
        ctx = CoreContext(paths, s, ident, log, LockedAudit(AuditLog(paths.audit_db)), Matrix())
        store = CoreStore(paths.core_db)
        broker = PaperBroker(store, s)
        kill = KillSwitch(store, ctx, Notifier(lambda n: None, log, bot_identity=ident.BOT_IDENTITY, enabled=False),
                          cancel_orders=broker.cancel_all)
        engine = Engine(ctx, store=store, broker=broker, feed=ReplayFeed(paths.sample_ohlcv, paths.sample_vix, s, start_after=None),
                        strategies=build_strategies(s), gate=build_gate(ctx, "PAPER"), risk=RiskBot(s), kill_switch=kill,
                        errors=ErrorHandler(ctx, broker_code="PAPER"), control=EngineControl())
        tracemalloc.start()
        start = time.perf_counter()
        engine.run()
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        assert engine.bars == floor_rows - 1, (engine.bars, floor_rows)
        store.close()
        return engine.bars / elapsed, peak / 2**20, floor_rows / floor


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    sizes = [int(x) for x in parser.parse_args().sizes.split(",")]
    peaks = []
    for n in sizes:
        rate, peak, floor_rate = run(n)
        peaks.append(peak)
        print(f"{n:>9,} ticks: engine {rate:>9,.0f} ticks/s (target >= 20,000) | peer csv.reader {floor_rate:>11,.0f} rows/s "
              f"| engine/peer {rate / floor_rate:.3f} | traced peak {peak:.1f} MiB")
    if len(peaks) > 1:
        print(f"peak memory growth {sizes[0]:,} -> {sizes[-1]:,}: {100 * (peaks[-1] / peaks[0] - 1):+.1f}% (target < 10%)")


if __name__ == "__main__":
    main()
