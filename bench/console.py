"""Console latency and memory under load: audit row commit -> on screen, and peak RSS.

A writer subprocess plays the core at full speed: it appends >= 1,000 audit
events/s in short transactions and replaces state.json every 250 ms, printing
``seq commit_time`` after each commit. The console runs headless in this
process (real Textual compositor, 160x48); a probe records when each batch of
rows has been painted. The peer, measured in the same run, is the bare data
path: the same read-only poll loop with no UI. Memory: RSS sampled every 5 s.

    python bench/console.py                # 60 s
    python bench/console.py --minutes 10   # the issue's 10-minute run
    python bench/console.py --first-paint-only

First paint, in the same run: the console as ``tbot serve`` shows it in headless
Chromium (/usr/bin/chromium via Playwright; page load, websocket, console process,
until the main screen's panes arrive and the next frame is drawn) next to the same
console started in a terminal (a pty, until the same panes are written), median of 5
each, 160x48-ish, on a paper home.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tbot_core.audit import AuditEvent, AuditLog
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tbot_core.state import StateWriter, empty_matrix
from tbot_core.state_schema import CoreInfo, CoreMode, CoreState, Pnl, PnlPoint, VerdictRow
from tbot_core.timeutil import iso_z

BATCH_EVERY_S = 0.02
PAINT_RUNS = 5
PAINT_MARKER = b"Emergency matrix"  # a border title of the main screen's third pane: the screen is drawn
CHROMIUM = "/usr/bin/chromium"
PAGE = os.sysconf("SC_PAGE_SIZE")


def writer(root: str, rate: int, seconds: float) -> None:
    """The fake core: audit batches at ``rate`` events/s plus state.json; prints commit times."""
    paths = HomePaths(root)
    per_batch = max(1, int(rate * BATCH_EVERY_S))
    state = StateWriter(paths.state_file, min_interval_s=0.25)
    verdicts = tuple(
        VerdictRow(
            ts_utc=iso_z(),
            strategy="mid",
            symbol="AAPL",
            side="buy",
            module="adx_filter",
            allow=i % 3 != 0,
            reason="ADX 22.0 <= 25",
            latency_us=90,
        )
        for i in range(50)
    )
    history = tuple(PnlPoint(t=iso_z(), pnl=Decimal(f"{i % 40 - 20}.00")) for i in range(120))
    end = time.monotonic() + seconds
    n = 0
    with AuditLog(paths.audit_db) as audit:
        next_at = time.monotonic()
        while time.monotonic() < end:
            events = [
                AuditEvent("bench", "gate_verdict", {"n": n + i, "symbol": "AAPL", "allow": True})
                for i in range(per_batch)
            ]
            seqs = audit.append_many(events)
            print(seqs[-1], time.time(), flush=True)
            n += per_batch
            state.write(
                CoreState(
                    mode=CoreMode.RUNNING,
                    core=CoreInfo(pid=os.getpid(), started_utc=iso_z(), heartbeat_utc=iso_z(), version="bench"),
                    verdicts=verdicts,
                    pnl=Pnl(daily=Decimal("-12.00"), limit=Decimal("2000.00"), history=history),
                    emergency_matrix=empty_matrix(),
                )
            )
            next_at += BATCH_EVERY_S
            time.sleep(max(0.0, next_at - time.monotonic()))


def rss_mb() -> float:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * PAGE / 1e6


def start_writer(root: Path, rate: int, seconds: float) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, __file__, "--writer", str(root), "--rate", str(rate), "--seconds", str(seconds)],
        stdout=subprocess.PIPE,
        text=True,
    )


def commits_of(proc: subprocess.Popen[str]) -> list[tuple[int, float]]:
    out, _ = proc.communicate()
    return [(int(a), float(b)) for a, b in (line.split() for line in out.splitlines() if line.strip())]


def latencies(commits: list[tuple[int, float]], seen: list[tuple[int, float]]) -> list[float]:
    """For each committed batch, ms until the first observation covering its last seq."""
    out, j = [], 0
    for seq, committed in commits:
        while j < len(seen) and seen[j][0] < seq:
            j += 1
        if j == len(seen):
            break
        out.append((seen[j][1] - committed) * 1000)
    return out


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] if ordered else float("nan")


def run_peer(root: Path, rate: int, seconds: float) -> list[float]:
    """The bare data path: the console's own AuditSource polled at the same interval, no UI."""
    from tbot_tui.app import AUDIT_POLL_S
    from tbot_tui.sources import AuditSource

    source, seen = AuditSource(HomePaths(root)), []
    source.poll()
    proc = start_writer(root, rate, seconds)
    end = time.monotonic() + seconds + 1
    while time.monotonic() < end:
        rows, _ = source.poll()
        if rows:
            seen.append((rows[-1].seq, time.time()))
        time.sleep(AUDIT_POLL_S)
    source.close()
    return latencies(commits_of(proc), seen)


async def run_console(root: Path, rate: int, seconds: float) -> tuple[list[float], list[float], int]:
    from tbot_tui.app import TradeBotConsole

    app, seen, rss = TradeBotConsole(str(root)), [], []
    app.on_audit_shown = lambda seq: seen.append((seq, time.time()))
    async with app.run_test(size=(160, 48)) as pilot:
        proc = start_writer(root, rate, seconds)
        end, next_sample = time.monotonic() + seconds + 1, 0.0
        while time.monotonic() < end:
            if time.monotonic() >= next_sample:
                rss.append(rss_mb())
                next_sample = time.monotonic() + 5
            await pilot.pause(0.1)
        ring = len(app.audit_ring)
        commits = await asyncio.to_thread(commits_of, proc)
    return latencies(commits, seen), rss, ring


def first_paint_terminal(root: Path) -> list[float]:
    """Seconds from starting ``python -m tbot_tui`` in a 160x48 pty to the main screen written out."""
    import fcntl
    import pty
    import select
    import struct
    import termios

    out = []
    for _ in range(PAINT_RUNS):
        master, slave = pty.openpty()
        fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 48, 160, 0, 0))
        start = time.perf_counter()
        proc = subprocess.Popen(
            [sys.executable, "-m", "tbot_tui", "--home", str(root), "--read-only"],
            stdin=slave,
            stdout=slave,
            stderr=slave,
            env={**os.environ, "TERM": "xterm-256color"},
            close_fds=True,
        )
        os.close(slave)
        seen = b""
        while PAINT_MARKER not in seen and time.perf_counter() - start < 60:
            if select.select([master], [], [], 0.5)[0]:
                seen += os.read(master, 65536)
        out.append(time.perf_counter() - start)
        proc.terminate()
        try:
            while select.select([master], [], [], 0.2)[0] and os.read(master, 65536):
                pass  # drain so the console is not blocked writing while it exits
        except OSError:
            pass
        proc.wait(10)
        os.close(master)
    return out


def first_paint_browser(root: Path) -> list[float] | str:
    """Seconds from asking the browser for the console page (logged in) to the main screen drawn."""
    if not Path(CHROMIUM).exists():
        return f"skipped: no {CHROMIUM} (apt-get install chromium)"
    import socket

    from playwright.sync_api import sync_playwright

    from tbot_core.home import BotHome
    from tbot_core.secrets.store import SecretStore

    SecretStore(BotHome(str(root))).set("web_console", {"user": "bench", "password": "bench-password-1"})
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    server = subprocess.Popen(
        [sys.executable, "-m", "tbot_tui.web", "--home", str(root), "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    out: list[float] = []
    try:
        if "tbot serve" not in (server.stdout.readline() if server.stdout else ""):
            return "skipped: tbot serve did not start"
        base = f"http://127.0.0.1:{port}"
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM)
            context = browser.new_context(viewport={"width": 1440, "height": 900})
            login = context.new_page()
            login.goto(f"{base}/login")
            login.fill("#user", "bench")
            login.fill("#password", "bench-password-1")
            login.click("#submit")
            login.wait_for_selector("body.-first-byte")
            login.close()
            for _ in range(PAINT_RUNS):
                page, frames = context.new_page(), []
                page.route("**/fonts.googleapis.com/**", lambda route: route.abort())
                page.on(
                    "websocket",
                    lambda ws, seen=frames: ws.on(
                        "framereceived", lambda f: seen.append(f if isinstance(f, bytes) else f.encode())
                    ),
                )
                start = time.perf_counter()
                page.goto(f"{base}/")
                while PAINT_MARKER not in b"".join(frames) and time.perf_counter() - start < 60:
                    page.wait_for_timeout(5)
                page.evaluate("() => new Promise(r => requestAnimationFrame(() => requestAnimationFrame(r)))")
                out.append(time.perf_counter() - start)
                page.close()
            browser.close()
    finally:
        server.terminate()
        server.wait(20)
    return out


def print_first_paint(root: Path) -> None:
    terminal = first_paint_terminal(root)
    browser = first_paint_browser(root)
    term_ms = statistics.median(terminal) * 1000
    print(f"first paint of the main screen, median of {PAINT_RUNS} (same run, same paper home):")
    print(
        f"  terminal (pty 160x48, python -m tbot_tui):       {term_ms:7.0f} ms  runs {[round(v * 1000) for v in terminal]}"
    )
    if isinstance(browser, str):
        print(f"  browser (tbot serve + headless Chromium):        {browser}")
        return
    web_ms = statistics.median(browser) * 1000
    print(
        f"  browser (tbot serve + headless Chromium, login done): {web_ms:7.0f} ms  runs {[round(v * 1000) for v in browser]}"
    )
    print(f"  ratio browser/terminal: x{web_ms / term_ms:.2f}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0, help="console phase length (default 60)")
    parser.add_argument("--minutes", type=float, help="console phase length in minutes (overrides --seconds)")
    parser.add_argument("--peer-seconds", type=float, default=10.0)
    parser.add_argument("--rate", type=int, default=1200, help="audit events per second (default 1200)")
    parser.add_argument(
        "--first-paint-only", action="store_true", help="only the terminal vs browser first-paint figures"
    )
    parser.add_argument("--writer", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.writer:
        writer(args.writer, args.rate, args.seconds)
        return 0
    if args.first_paint_only:
        with tempfile.TemporaryDirectory() as tmp:
            init_home(Path(tmp) / "home")
            print_first_paint(Path(tmp) / "home")
        return 0
    seconds = args.minutes * 60 if args.minutes else args.seconds
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "home"
        init_home(root)
        peer = run_peer(root, args.rate, args.peer_seconds)
        lat, rss, ring = asyncio.run(run_console(root, args.rate, seconds))
        with AuditLog(HomePaths(root).audit_db, readonly=True) as log:
            total = log.count()
    print(
        f"console bench: {args.rate} audit events/s for {seconds:.0f} s ({total} rows in audit.db), state.json every 250 ms"
    )
    print(
        f"  peer (bare poll, no UI, {args.peer_seconds:.0f} s): median {statistics.median(peer):.1f} ms  p99 {pct(peer, 0.99):.1f} ms"
    )
    print(
        f"  console commit->painted:      median {statistics.median(lat):.1f} ms  p99 {pct(lat, 0.99):.1f} ms"
        f"  (target p99 <= 250 ms: {'met' if pct(lat, 0.99) <= 250 else 'MISSED'})"
    )
    print(
        f"  ratio console/peer: median x{statistics.median(lat) / statistics.median(peer):.1f}  p99 x{pct(lat, 0.99) / pct(peer, 0.99):.1f}"
    )
    warm = rss[min(2, len(rss) - 1)]
    print(
        f"  RSS: peak {max(rss):.1f} MB; after warm-up {warm:.1f} MB -> end {rss[-1]:.1f} MB "
        f"(growth {rss[-1] - warm:+.1f} MB over {len(rss)} samples); audit ring {ring} rows (bounded)"
    )
    print("  samples MB: " + json.dumps([round(v, 1) for v in rss]))
    with tempfile.TemporaryDirectory() as tmp:
        init_home(Path(tmp) / "home")
        print_first_paint(Path(tmp) / "home")
    return 0


if __name__ == "__main__":
    sys.exit(main())
