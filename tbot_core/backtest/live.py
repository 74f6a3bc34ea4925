"""The default backtest: the live engine itself, replayed over the chosen bars in a scratch home.

``run_live`` wires the core exactly as ``tbot core`` does — ``build_parts``
(paper broker, the gate with its ticker blocklist and enhancements, the risk
bot with its sizing and per-strategy allocations), a ``KillSwitch``, an
``ErrorHandler`` and the ``Engine`` loop — and runs the engine until its
replay feed ends (``REPLAY_SPEED=0``: the bars' own clock, no sleeping).  What
it traded is then read back from the paper broker (its fills in ``core.db``),
what it refused from the gate's strategy log (every verdict) and the audit
log (risk blocks), and the scratch home is deleted.  Nothing here decides a
trade: a difference from live behaviour would be a bug in the wiring, not a
second implementation.
"""

from __future__ import annotations

import json
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

from tbot_core.audit import AuditLog
from tbot_core.backtest.data import SymbolBars
from tbot_core.backtest.fills import simulation_from_fills
from tbot_core.backtest.filtering import strategy_chains
from tbot_core.backtest.fundamentals import PointInTimeFundamentals
from tbot_core.backtest.run_info import EngineRun, paper_fill_model
from tbot_core.backtest.scratch import write_market_data
from tbot_core.config import Settings
from tbot_core.context import CoreContext, Matrix
from tbot_core.core_store import CoreStore
from tbot_core.errors import LogicError
from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.identity import Identity
from tbot_core.market_calendar import session_for
from tbot_core.money import from_cents, round_to_cents
from tbot_core.paths import HomePaths, backtest_scratch_home
from tbot_core.runtime.engine import Engine, EngineControl
from tbot_core.runtime.engine_view import EngineState
from tbot_core.runtime.wiring import build_parts
from tbot_core.safety.error_handler import ErrorHandler
from tbot_core.safety.kill_switch import KillSwitch
from tbot_core.safety.notifier_bot import Notifier
from tbot_core.strategies.registry import STRATEGIES
from tbot_core.syslog import SystemLog

SCRATCH_PREFIX = "tbot-backtest-"


LiveRun = EngineRun  # the bar engine's result (the name earlier callers import)


def _count_verdicts(path: Path) -> tuple[dict[str, int], dict[str, dict[str, int]], dict[str, int]]:
    """From the strategy log: signals per strategy, gate blocks per strategy and module, gate passes."""
    seen: dict[str, set[tuple[str, str, str]]] = {}
    blocks: dict[str, dict[str, int]] = {}
    refused: dict[str, set[tuple[str, str, str]]] = {}
    if path.exists():
        with open(path, encoding="utf-8") as handle:
            for line in handle:
                row = json.loads(line)
                strategy, key = row["strategy"], (row["ts_utc"], row["symbol"], row["side"])
                seen.setdefault(strategy, set()).add(key)
                if not row["allow"]:
                    per = blocks.setdefault(strategy, {})
                    per[row["module"]] = per.get(row["module"], 0) + 1
                    refused.setdefault(strategy, set()).add(key)
    signals = {name: len(keys) for name, keys in seen.items()}
    passed = {name: len(keys) - len(refused.get(name, ())) for name, keys in seen.items()}
    return signals, blocks, passed


def _risk_blocks(audit: AuditLog) -> dict[str, int]:
    out: dict[str, int] = {}
    for row in audit.iter_rows():
        if row.category == "risk" and row.event == "trade_blocked":
            strategy = str(row.context_dict().get("strategy", ""))
            out[strategy] = out.get(strategy, 0) + 1
    return out


def run_live(
    bars: dict[str, SymbolBars],
    settings: Settings,
    identity: Identity,
    *,
    fundamentals: PointInTimeFundamentals | None = None,
) -> LiveRun:
    """Run the live engine over ``bars`` with ``settings`` (see ``scratch.live_settings``) in a scratch home."""
    with tempfile.TemporaryDirectory(prefix=SCRATCH_PREFIX) as tmp:
        paths, _ = init_home(
            backtest_scratch_home(tmp), identity=identity.BOT_IDENTITY, jurisdiction=identity.JURISDICTION_CODE
        )
        written = write_market_data(paths, bars)
        return _run_in(paths, bars, settings, fundamentals, written)


def _run_in(
    paths: HomePaths,
    bars: dict[str, SymbolBars],
    s: Settings,
    fundamentals: PointInTimeFundamentals | None,
    written: int,
) -> LiveRun:
    home = BotHome(str(paths.root))
    ident = home.identity
    log = SystemLog(paths.system_log(ident.BOT_IDENTITY, s.log_format), s.log_format)
    audit = AuditLog(paths.audit_db)
    store = CoreStore(paths.core_db)
    try:
        ctx = CoreContext(paths, s, ident, log, audit, Matrix())
        notifier = Notifier(lambda _name: None, log, bot_identity=ident.BOT_IDENTITY, enabled=False)
        parts = build_parts(home, ctx, store, notifier, fundamentals=fundamentals)
        errors = ErrorHandler(ctx, broker_code=parts.broker.code)
        kill = KillSwitch(store, ctx, notifier, cancel_orders=parts.broker.cancel_all)
        kill.reconcile()
        feed = parts.make_feed(store.cursor()[0])
        if fundamentals is not None:
            fundamentals.today = lambda: getattr(feed, "last_bar_ts", None)
        strategies = parts.make_strategies()
        first = min(series.ts[0] for series in bars.values())
        session_for(
            datetime.fromtimestamp(int(first.astype("datetime64[s]").astype(int)), UTC)
        )  # load the exchange calendar before the clock starts, as the core does at startup
        engine = Engine(
            ctx,
            store=store,
            broker=parts.broker,
            feed=feed,
            strategies=strategies,
            gate=parts.gate,
            risk=parts.risk,
            kill_switch=kill,
            errors=errors,
            control=EngineControl(),
        )
        started = time.perf_counter()
        engine.run()
        seconds = time.perf_counter() - started
        if engine.state != EngineState.FEED_ENDED or engine.bars != written:
            raise LogicError(
                f"live engine ended {engine.state} after {engine.bars} of {written} bars: {_last_error(log.path)}"
            )
        names = [name for name, cls in STRATEGIES.items() if any(type(st) is cls for st in strategies)]
        account = parts.broker.account()
        marks = {p.symbol: p.market_price for p in parts.broker.positions() if p.market_price is not None}
        starting = from_cents(round_to_cents(s.paper_starting_cash))
        fills = parts.broker.fills_since(None)
        simulation = simulation_from_fills(
            fills,
            bars,
            starting_cash=starting,
            final_cash=account.cash,
            final_equity=account.equity,
            marks=marks,
        )
        signals, blocks, passed = _count_verdicts(paths.strategy_log(ident.BOT_IDENTITY, s.log_format))
        risk = _risk_blocks(audit)
        orders = {
            str(k): int(n) for k, n in store.query("SELECT strategy, count(*) FROM paper_orders GROUP BY strategy")
        }
        for name in names:
            per = blocks.setdefault(name, {})
            if risk.get(name):
                per["risk_bot"] = risk[name]
            # Allowed by the gate and the risk bot, yet never sent: the kill switch had halted trading.
            halted = passed.get(name, 0) - risk.get(name, 0) - orders.get(name, 0)
            if halted > 0:
                per["kill_switch" if kill.triggered else "engine"] = halted
        state = kill.state()
        return LiveRun(
            simulation=simulation,
            fills=fills,
            starting_cash=starting,
            strategies=names,
            filters=strategy_chains(parts.gate, names),
            signals={name: signals.get(name, 0) for name in names},
            blocks={name: dict(sorted(blocks.get(name, {}).items())) for name in names},
            orders={name: orders.get(name, 0) for name in names},
            flat_sells=engine.flat_sells,
            kill_switch={"triggered": kill.triggered, "since_utc": state.since_utc, "cause": state.cause},
            fill_model=paper_fill_model(s),
            bars=engine.bars,
            seconds=seconds,
        )
    finally:
        store.close()
        audit.close()


def _last_error(path: Path) -> str:
    """The scratch system log's last line, so the one-line error says why before the folder is deleted."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:
        return "no system log"
    return lines[-1][:300] if lines else "system log empty"
