"""The console's fixture states, built from the same dataclasses the core writes ``state.json`` with.

A hand-written JSON fixture can carry a key or a type the core never emits and
the console would be tested against a fiction; these are ``CoreState`` values,
so they can only hold what the schema allows (and ``write_state`` sends them
through the core's own ``StateWriter``).  The figures are the ones the console
snapshots were approved with.
"""

from __future__ import annotations

import types
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from tbot_core.config import Settings
from tbot_core.state import empty_matrix
from tbot_core.state_schema import (
    Account,
    Allocation,
    BeatState,
    BeatView,
    BrokerMismatch,
    CheckRow,
    CoreInfo,
    CoreMode,
    CoreState,
    DefenseMode,
    EnhancementRow,
    EnhancementStatus,
    Exposure,
    IdentityInfo,
    KillSwitchState,
    KillSwitchView,
    MatrixRowState,
    MatrixRowView,
    MismatchRow,
    Order,
    Pnl,
    PnlPoint,
    Position,
    TuningStats,
    VerdictRow,
    WatchdogView,
)

D = Decimal
WRITTEN = "2026-03-02T15:29:59.750000Z"
STARTED = "2026-03-02T14:30:00.000000Z"
CORE_DOWN_WRITTEN = "2026-03-02T15:26:30.000000Z"  # 3.5 minutes before the console's frozen clock

# Daily PnL every 30 s from the session open: up, down through zero, back up.
HISTORY_PNL = (
    "0.00 15.58 30.82 45.37 58.90 71.11 81.72 90.48 97.18 101.66 103.79 103.50 100.77 95.61 88.12 78.39 66.62 "
    "52.99 37.77 21.23 3.68 -14.57 -33.15 -51.73 -69.97 -87.51 -104.03 -119.22 -132.82 -144.56 -154.24 -161.70 "
    "-166.81 -169.50 -169.74 -167.57 -163.05 -156.31 -147.52 -136.88 -124.64 -111.09 -96.53 -81.28 -65.70 -50.12 "
    "-34.89 -20.36 -6.84 5.34 15.92 24.64 31.30 35.74 37.83 37.50 34.72 29.53 21.99 12.23"
).split()
OPEN = datetime(2026, 3, 2, 14, 30, tzinfo=UTC)
VERDICT_KINDS = (
    ("open", "AAPL", "buy", "vix_gatekeeper", True, "VIX 21.4 >= 18.0", {"vix": "21.4"}),
    ("mid", "MSFT", "sell", "adx_filter", False, "ADX 31.2 > 25", {"adx": "31.2"}),
    ("close", "NVDA", "buy", "ticker_blocklist", False, "AAPL already traded this session", {}),
    ("open", "SPY", "sell", "bollinger_confluence", True, "close below lower band", {"lower": "509.80"}),
    ("mid", "AMD", "buy", "finnhub_fundamental_guard", False, "peNormalizedAnnual 63.1 > 50", {"pe": "63.1"}),
    ("close", "TSLA", "sell", "risk_bot", True, "within allocation", None),  # the core's own check: no context
)
ENHANCEMENTS = (
    ("vix_gatekeeper", "VIX 21.4 >= 18.0"),
    ("adx_filter", "ADX 31.2 > 25"),
    ("ticker_blocklist", "AAPL already traded this session"),
    ("bollinger_confluence", "close below lower band"),
    ("finnhub_fundamental_guard", "peNormalizedAnnual 63.1 > 50"),
)
CHECKED = ("security_bot", "build_check", "kill_switch", "watchdog_bot", "risk_bot")
CHECKED += ("adx_filter", "vix_gatekeeper", "ticker_blocklist")


def utc(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def history(points: list[tuple[datetime, str]]) -> tuple[PnlPoint, ...]:
    return tuple(PnlPoint(t=utc(t), pnl=D(pnl)) for t, pnl in points)


def verdicts() -> tuple[VerdictRow, ...]:
    newest = datetime(2026, 3, 2, 15, 29, 58, 120000, tzinfo=UTC)
    rows = []
    for i in range(14):
        strategy, symbol, side, module, allow, reason, context = VERDICT_KINDS[i % len(VERDICT_KINDS)]
        rows.append(
            VerdictRow(
                ts_utc=utc(newest - timedelta(seconds=4 * i)),
                strategy=strategy,
                symbol=symbol,
                side=side,
                module=module,
                allow=allow,
                reason=reason,
                latency_us=80 + i,
                context=None if context is None else types.MappingProxyType(context),
            )
        )
    return tuple(rows)


def order(n: int, symbol: str, side: str, qty: str, at: str, strategy: str) -> Order:
    return Order(
        order_id=f"P-{n:06d}",
        symbol=symbol,
        side=side,
        qty=D(qty),
        status="filled",
        submitted_utc=f"2026-03-02T{at}.000000Z",
        strategy=strategy,
        bar_utc=f"2026-03-02T{at[:5]}:00.000000Z",
    )


def position(symbol: str, qty: str, avg: str, last: str, value: str, unrealized: str, strategy: str) -> Position:
    return Position(
        symbol=symbol,
        qty=D(qty),
        avg_price=D(avg),
        last_price=D(last),
        market_value=D(value),
        unrealized_pnl=D(unrealized),
        strategy=strategy,
    )


def beat(age: float, threshold: float, state: BeatState = BeatState.OK) -> BeatView:
    return BeatView(age_seconds=age, threshold_seconds=threshold, state=state)


def matrix(**fired: tuple[str, str]) -> tuple[MatrixRowView, ...]:
    """The matrix with ``key=(last_utc, cause)`` rows triggered."""
    return tuple(
        replace(row, state=MatrixRowState.TRIGGERED, last_utc=fired[row.key][0], cause=fired[row.key][1])
        if row.key in fired
        else row
        for row in empty_matrix()
    )


def normal() -> CoreState:
    return CoreState(
        written_utc=WRITTEN,
        mode=CoreMode.RUNNING,
        core=CoreInfo(pid=1, started_utc=STARTED, heartbeat_utc=WRITTEN, version="0.1.0"),
        identity=IdentityInfo(
            bot_identity="TBOT_PAPER_01", jurisdiction="US", broker="paper", paper=True, environment="development"
        ),
        account=Account(cash=D("81234.50"), equity=D("100842.17"), start_of_day_equity=D("100930.67"), currency="USD"),
        pnl=Pnl(
            daily=D("-88.50"),
            realized=D("-40.00"),
            unrealized=D("-48.50"),
            limit=D("2018.61"),
            limit_text="2%",
            used_fraction=D("0.0438"),
            history=history([(OPEN + timedelta(seconds=30 * i), p) for i, p in enumerate(HISTORY_PNL)]),
        ),
        exposure=Exposure(
            gross=D("19607.67"),
            net=D("14221.10"),
            gross_limit=D("50000.00"),
            allocations=types.MappingProxyType(
                {
                    "open": Allocation(limit=D("20000.00"), used=D("9800.00")),
                    "mid": Allocation(limit=D("20000.00"), used=D("6407.67")),
                    "close": Allocation(limit=D("10000.00"), used=D("3400.00")),
                }
            ),
        ),
        positions=(
            position("MSFT", "20", "410.12", "408.90", "8178.00", "-24.40", "open"),
            position("SPY", "-5", "512.40", "511.10", "-2555.50", "6.50", "mid"),
            position("AMD", "40", "178.00", "177.34", "7093.60", "-26.40", "close"),
        ),
        orders=(
            order(17, "AMD", "buy", "40", "15:21:04", "close"),
            order(16, "SPY", "sell", "5", "15:02:40", "mid"),
            order(15, "MSFT", "buy", "20", "14:31:12", "open"),
        ),
        kill_switch=KillSwitchView(
            state=KillSwitchState.ARMED, since_utc=None, cause=None, limit=D("2018.61"), daily_pnl=D("-88.50")
        ),
        defense_mode=DefenseMode(active=False, factor=D("0.5")),
        watchdog=WatchdogView(broker=beat(0.4, 10.0), feed=beat(1.2, 15.0)),
        verdicts=verdicts(),
        enhancements=tuple(
            EnhancementRow(
                module=name,
                enabled=True,
                fatal=False,
                status=EnhancementStatus.OK,
                allowed=10 + i,
                blocked=3 * i,
                last_reason=reason,
            )
            for i, (name, reason) in enumerate(ENHANCEMENTS)
        ),
        self_check=tuple(
            CheckRow(module=m, ok=True, detail="ready", hint="", checked_utc="2026-03-02T14:30:00.500000Z")
            for m in CHECKED
        ),
        emergency_matrix=matrix(),
        config=types.MappingProxyType(Settings().redacted()),  # what the core publishes: its redacted config
        tuning=types.MappingProxyType(
            {
                "open": tuning(12, "0.58", "142.10", "88.00", 1260.0, adx_filter=4, vix_gatekeeper=2),
                "mid": tuning(7, "0.43", "-31.00", "120.40", 2700.5, bollinger_confluence=5),
                "close": tuning(3, "0.67", "12.75", "20.00", 66600.0),
            }
        ),
    )


def tuning(trades: int, win_rate: str, pnl: str, drawdown: str, held_s: float, **blocks: int) -> TuningStats:
    return TuningStats(
        trades=trades,
        win_rate=D(win_rate),
        realized_pnl=D(pnl),
        max_drawdown=D(drawdown),
        avg_duration_s=held_s,
        blocks=types.MappingProxyType(blocks),
    )


def kill_triggered() -> CoreState:
    base = normal()
    crash = [(OPEN + timedelta(seconds=30 * i), p) for i, p in enumerate(HISTORY_PNL[:50])]
    crash += [(OPEN + timedelta(minutes=30 + i), f"{-300 - 180 * i}.00") for i in range(10)]
    since = "2026-03-02T15:28:41.000000Z"
    return replace(
        base,
        mode=CoreMode.HALTED,
        pnl=replace(
            base.pnl,
            daily=D("-2050.00"),
            realized=D("-1900.00"),
            unrealized=D("-150.00"),
            used_fraction=D("1.0156"),
            history=history(crash),
        ),
        kill_switch=replace(
            base.kill_switch,
            state=KillSwitchState.TRIGGERED,
            since_utc=since,
            cause="daily PnL -2050.00 breached limit 2018.61",
            daily_pnl=D("-2050.00"),
        ),
        emergency_matrix=matrix(daily_loss=(since, "daily PnL -2050.00 < -2018.61")),
    )


def watchdog_suspended() -> CoreState:
    base = normal()
    return replace(
        base,
        mode=CoreMode.SUSPENDED,
        watchdog=replace(base.watchdog, broker=beat(42.7, 10.0, BeatState.SUSPENDED)),
        emergency_matrix=matrix(broker_down=("2026-03-02T15:29:17.000000Z", "broker heartbeat 42.7s > 10.0s")),
        broker_mismatch=BrokerMismatch(
            blocking=True,
            found_utc="2026-03-02T14:30:02.000000Z",
            cause="engine start",
            rows=(
                MismatchRow(
                    kind="position",
                    symbol="NVDA",
                    broker_qty=Decimal(12),
                    book_qty=Decimal(10),
                    detail="broker 12, books 10",
                ),
            ),
            acknowledged_by=None,
            acknowledged_utc=None,
        ),
    )


def core_down() -> CoreState:
    base = normal()
    return replace(base, written_utc=CORE_DOWN_WRITTEN, core=replace(base.core, heartbeat_utc=CORE_DOWN_WRITTEN))


SCENARIO_STATES = {
    "normal": normal,
    "kill_triggered": kill_triggered,
    "watchdog_suspended": watchdog_suspended,
    "core_down": core_down,
}
