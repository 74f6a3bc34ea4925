"""Full-speed replay through the whole pipeline: ticks/s and peak memory at 100k and 1M ticks.

Pipeline: replay feed -> real strategies (+ a scripted signal every 50 bars) -> real gate ->
risk -> kill switch -> paper broker (core.db) -> ledger.  Peers measured in the same run on
the same file: a bare ``csv.reader`` pass (the floor any replay must pay) and the replay
feed alone (parsing into ``Bar`` objects, no pipeline), so engine/feed is the pipeline's cost.
Speed runs are untraced; peak memory comes from a separate run of each size under
``tracemalloc`` (which slows Python several-fold, so its timings are not reported), traced
from the pipeline's construction to the end of its run.
One-time start-up work (loading the exchange calendar, as the core does at startup) happens
before the clock starts; everything per tick is inside it.
Peak memory is reported two ways: the process's peak resident set (``ru_maxrss``) of a fresh
subprocess per size — what the operator's server sees, and the figure the target applies to — and
the Python heap traced from the pipeline's construction, whose growth is the bounded caches
(calendar days, recent orders and verdicts) filling up, shown in KiB.
Targets: >= 20,000 ticks/s; peak memory growth < 10% from 100k to 1M ticks.
Each size is also measured against an earlier version of this code in the same run
(``--against REV``, by default ``9cf509c``, a tree of 2026-12-01; ``--against d41eab6`` runs the tree the
"one owner" issue was filed against):
that revision is checked out into a temporary ``git worktree`` and its own ``bench/engine.py``
runs as a subprocess, alternating with this tree's (also a subprocess), best of ``--rounds``
each, so a busy machine slows both alike.  A ratio below 1 means this tree is slower.
Run: ``.venv/bin/python bench/engine.py [--sizes 100000,1000000] [--no-memory] [--against REV|none]``.
"""

from __future__ import annotations

import argparse
import csv
import re
import resource
import subprocess
import sys
import tempfile
import time
import tracemalloc
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core.audit import AuditLog
from tbot_core.context import CoreContext, Matrix
from tbot_core.core_store import CoreStore
from tbot_core.data.replay import ReplayFeed
from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.market_calendar import session_for
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.runtime.wiring import Fakes, build_parts
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.syslog import SystemLog
from tests.fakes.faults import ScriptedStrategy

SYMBOLS = ("SPY", "AAPL", "MSFT", "NVDA")
AGAINST = "9cf509c"  # before typed views and published snapshots (d41eab6, where that issue began, also runs)
REPO = Path(__file__).resolve().parent.parent
_RATE = re.compile(r"engine\s+([\d,]+) ticks/s")


BASE_UTC = 1767623400  # 2026-01-05T14:30:00Z, a Monday session open


def write_data(home: Path, ticks: int) -> None:
    base = BASE_UTC
    with open(home / "data/market/sample_ohlcv.csv", "w") as out, open(home / "data/market/sample_vix.csv", "w") as vix:
        out.write("timestamp_utc,symbol,open,high,low,close,volume\n")
        vix.write("timestamp_utc,vix\n")
        for minute in range(ticks // len(SYMBOLS)):
            ts = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(base + 60 * minute))
            vix.write(f"{ts},18.00\n")
            for k, sym in enumerate(SYMBOLS):
                p = 100 + k + ((minute * 7) % 23) * 0.1
                out.write(f"{ts},{sym},{p:.2f},{p + 0.1:.2f},{p - 0.1:.2f},{p:.2f},1000\n")


def run(ticks: int, *, traced: bool) -> tuple[float, float, float, float]:
    """(engine ticks/s, traced peak MiB or 0, csv.reader rows/s, replay feed bars/s) for one size."""
    with tempfile.TemporaryDirectory() as tmp:
        paths, _ = init_home(Path(tmp) / "home")
        paths.plaintext_env.write_text("REPLAY_SPEED=0\nDAILY_LOSS_LIMIT=50%\n")
        write_data(paths.root, ticks)
        start = time.perf_counter()
        with open(paths.sample_ohlcv, newline="") as handle:
            floor_rows = sum(1 for _ in csv.reader(handle))
        floor = time.perf_counter() - start
        home = BotHome(str(paths.root))
        s, ident = home.settings, home.identity
        start = time.perf_counter()
        feed_bars = sum(1 for _ in ReplayFeed(paths.sample_ohlcv, paths.sample_vix, s, start_after=None).bars())
        feed_rate = feed_bars / (time.perf_counter() - start)
        session_for(datetime.fromtimestamp(BASE_UTC, UTC))  # start-up: load the exchange calendar
        if traced:  # the pipeline's whole life: construction (gate, strategies, stores) and the run
            tracemalloc.start()
        log = SystemLog(paths.system_log(ident.BOT_IDENTITY), "JSON")
        ctx = CoreContext(paths, s, ident, log, AuditLog(paths.audit_db), Matrix())
        store = CoreStore(paths.core_db)
        notifier = Notifier(lambda n: None, log, bot_identity=ident.BOT_IDENTITY, enabled=False)
        # The core's own wiring function; the bench adds a scripted strategy so orders flow on every 50th bar.
        parts = build_parts(home, ctx, store, notifier, Fakes(strategies=lambda _s: [ScriptedStrategy(50)]))
        kill = KillSwitch(store, ctx, notifier, cancel_orders=parts.broker.cancel_all)
        engine = Engine(
            ctx,
            store=store,
            broker=parts.broker,
            feed=parts.make_feed(None),
            strategies=parts.make_strategies(),
            gate=parts.gate,
            risk=parts.risk,
            kill_switch=kill,
            errors=ErrorHandler(ctx, broker_code="PAPER"),
            control=EngineControl(),
        )
        start = time.perf_counter()
        engine.run()
        elapsed = time.perf_counter() - start
        peak = tracemalloc.get_traced_memory()[1] if traced else 0
        tracemalloc.stop()
        assert engine.bars == floor_rows - 1 == feed_bars, (engine.bars, floor_rows, feed_bars)
        assert engine.state == "feed_ended" and not kill.triggered, (engine.state, kill.state())
        assert engine.view.orders, "no order reached the broker: the pipeline was not exercised"
        store.close()
        return engine.bars / elapsed, peak / 2**20, floor_rows / floor, feed_rate


def speed_in_subprocess(tree: Path, n: int, *extra: str) -> float:
    """Engine ticks/s of ``tree``'s own bench for ``n`` ticks, in a fresh interpreter (``extra``: its own flags)."""
    out = subprocess.run(
        [sys.executable, str(tree / "bench/engine.py"), "--sizes", str(n), "--no-memory", *extra],
        capture_output=True,
        text=True,
        check=True,
        cwd=tree,
    ).stdout
    found = _RATE.search(out)
    if found is None:
        raise SystemExit(f"{tree}/bench/engine.py: no 'engine N ticks/s' line in its output")
    return float(found.group(1).replace(",", ""))


def compare(rev: str, sizes: list[int], rounds: int) -> None:
    """This tree against ``rev``'s, alternating, best of ``rounds`` each (see the module docstring)."""
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp) / "against"
        made = subprocess.run(
            ["git", "-C", str(REPO), "worktree", "add", "--detach", "--quiet", str(old), rev],
            capture_output=True,
            text=True,
        )
        if made.returncode:
            print(f"against {rev}: cannot check it out ({made.stderr.strip().splitlines()[-1:]}); no comparison")
            return
        try:
            for n in sizes:
                ours, theirs = 0.0, 0.0
                for _ in range(rounds):
                    theirs = max(theirs, speed_in_subprocess(old, n))
                    ours = max(ours, speed_in_subprocess(REPO, n, "--against", "none"))
                print(
                    f"{n:>9,} ticks: this tree {ours:>8,.0f} vs {rev} {theirs:>8,.0f} ticks/s, best of {rounds} each "
                    f"(alternating): ratio {ours / theirs:.3f}"
                )
        finally:
            subprocess.run(["git", "-C", str(REPO), "worktree", "remove", "--force", str(old)], capture_output=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sizes", default="100000,1000000")
    parser.add_argument("--no-memory", action="store_true", help="skip the memory runs")
    parser.add_argument("--against", default=AGAINST, help="git revision to compare with in the same run, or none")
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of each tree per size (best of)")
    parser.add_argument("--child-rss", type=int, default=0, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child_rss:
        run(args.child_rss, traced=False)
        print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)  # KiB on Linux
        return
    sizes = [int(x) for x in args.sizes.split(",")]
    for n in sizes:
        rate, _, floor_rate, feed_rate = run(n, traced=False)
        print(
            f"{n:>9,} ticks: engine {rate:>8,.0f} ticks/s (target >= 20,000) | peers: csv.reader {floor_rate:>10,.0f} rows/s, "
            f"replay feed alone {feed_rate:>9,.0f} bars/s | engine/csv {rate / floor_rate:.3f}, engine/feed {rate / feed_rate:.3f}"
        )
    if args.against != "none":
        compare(args.against, sizes, args.rounds)
    if args.no_memory:
        return
    rss = []
    for n in sizes:
        out = subprocess.run(
            [sys.executable, __file__, "--child-rss", str(n)], capture_output=True, text=True, check=True
        )
        rss.append(int(out.stdout.split()[-1]) / 1024)
        print(f"{n:>9,} ticks: process peak RSS {rss[-1]:.1f} MiB (fresh subprocess)")
    peaks = []
    for n in sizes:
        peaks.append(run(n, traced=True)[1])
        print(f"{n:>9,} ticks: traced Python heap peak {peaks[-1]:.2f} MiB (separate tracemalloc run)")
    if len(sizes) > 1:
        print(
            f"peak RSS growth {sizes[0]:,} -> {sizes[-1]:,}: {100 * (rss[-1] / rss[0] - 1):+.1f}% (target < 10%); "
            f"traced heap {1024 * (peaks[-1] - peaks[0]):+.0f} KiB ({100 * (peaks[-1] / peaks[0] - 1):+.1f}% of a "
            f"{peaks[0]:.2f} MiB base: bounded caches filling)"
        )


if __name__ == "__main__":
    main()
