"""The ``state.json`` contract as frozen dataclasses, shared by the core that writes it and the console.

One set of types means the writer cannot publish a key the reader does not
know, and a rename breaks a test instead of a screen.  Every value is
immutable (tuples, read-only mappings), so a view published by one thread can
be read by another without a lock.  The component states are ``StrEnum``s:
they compare equal to, and serialise as, the strings ``state.json`` has
always carried.  ``docs/state.md`` is generated from these fields
(``tools/state_doc.py``); a test fails when it is stale.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from enum import StrEnum
from typing import Any, TypeVar, dataclass_transform

# Decimal amounts of the account currency and UTC ISO 8601 times with ``Z``: named so the doc says which
# (defined beside ``from_cents`` and ``iso_z``, which make them; re-exported for the schema's readers).
from tbot_core.money import Money as Money
from tbot_core.state_codec import OPTIONAL_KEY, decode, encode
from tbot_core.timeutil import UtcTime as UtcTime

SCHEMA_VERSION = 1


class CoreMode(StrEnum):
    """What the core as a whole is doing; derived from facts by one function (``runtime/mode.py``)."""

    STARTING = "starting"
    RUNNING = "running"
    STOPPED = "stopped"
    HALTED = "halted"
    SUSPENDED = "suspended"
    DEFENSE = "defense"
    BLOCKED = "blocked"


class KillSwitchState(StrEnum):
    ARMED = "armed"
    TRIGGERED = "triggered"


class BeatState(StrEnum):
    """A watchdog heartbeat: ``down`` (feed) asks for a controlled stop, ``suspended`` (broker) refuses orders."""

    OK = "ok"
    STALE = "stale"
    DOWN = "down"
    SUSPENDED = "suspended"


class MatrixRowState(StrEnum):
    ARMED = "armed"
    TRIGGERED = "triggered"
    CLEARED = "cleared"


class EnhancementStatus(StrEnum):
    OK = "ok"
    ERROR = "error"
    DISABLED = "disabled"


def doc(text: str, *, default: Any = dataclasses.MISSING, optional_key: bool = False) -> Any:
    """A field with its docs/state.md meaning; ``optional_key``: left out of the JSON while None."""
    return dataclasses.field(default=default, metadata={"doc": text, OPTIONAL_KEY: optional_key})


def section(text: str) -> Any:
    return doc(text, default=None, optional_key=True)


_Cls = TypeVar("_Cls")


@dataclass_transform(frozen_default=True, kw_only_default=True, field_specifiers=(dataclasses.field, doc))
def view(cls: type[_Cls]) -> type[_Cls]:
    """``@dataclass(frozen=True, slots=True, kw_only=True)`` under one name (spelled so type checkers follow it)."""
    return dataclass(frozen=True, slots=True, kw_only=True)(cls)


@view
class CoreInfo:
    pid: int = doc("the supervisor's process id (the console calls the file stale when it is gone)")
    started_utc: UtcTime = doc("when this core started")
    heartbeat_utc: UtcTime = doc("when the supervisor last built this state")
    version: str = doc("TradeBot's version")


@view
class RestartWindow:
    restarts: int = doc("engine restarts inside the current window")
    max: int = doc("`RESTART_MAX_ATTEMPTS`")
    window_s: float = doc("`RESTART_WINDOW_SECONDS`")


@view
class WorkersInfo:
    restarts: Mapping[str, int] = doc(
        "restarts per worker (engine, watchdog, notifier) after a death or stall; a second failure stops the core"
    )
    restart_window: RestartWindow = doc("the engine's restart budget for matrix events")


@view
class IdentityInfo:
    bot_identity: str = doc("`BOT_IDENTITY`")
    jurisdiction: str = doc("`JURISDICTION_CODE`")
    broker: str = doc("`paper`\\|`alpaca`\\|`ibkr`")
    paper: bool = doc("true for the paper broker")
    environment: str = doc("`ENVIRONMENT`")


@view
class Account:
    cash: Money = doc("cash as the broker last reported it")
    equity: Money | None = doc("cash plus positions at the latest marks; null while a held symbol has no price")
    start_of_day_equity: Money | None = doc("equity at the first bar of the UTC day")
    currency: str = doc("`CURRENCY`")


@view
class PnlPoint:
    t: UtcTime = doc("the bar's time")
    pnl: Money = doc("daily PnL at that bar")


@view
class Pnl:
    daily: Money | None = doc("equity now minus start-of-day equity", default=None)
    realized: Money | None = doc("daily minus unrealized", default=None)
    unrealized: Money | None = doc("open positions at the latest marks against their average price", default=None)
    limit: Money | None = doc("the day's loss limit as an amount", default=None)
    limit_text: str = doc('`DAILY_LOSS_LIMIT` as configured (`"2%"` or `"2500.00"`)', default="")
    used_fraction: Decimal | None = doc("0..1+ of the limit consumed by a loss", default=None)
    history: tuple[PnlPoint, ...] = doc("one point per bar minute, newest last, at most 120", default=())


@view
class Allocation:
    limit: Money = doc("the strategy's allocation at current equity")
    used: Money = doc("market value it holds")


@view
class Exposure:
    gross: Money = doc("market value of all positions")
    net: Money = doc("long minus short market value")
    gross_limit: Money = doc("`MAX_GROSS_EXPOSURE` at current equity (compressed in defense mode)")
    allocations: Mapping[str, Allocation] = doc("per strategy")


@view
class Position:
    symbol: str = doc("ticker")
    qty: Decimal = doc("shares held")
    avg_price: Money = doc("average entry price")
    last_price: Money = doc("latest mark (the average price until a bar arrives)")
    market_value: Money = doc("qty × last price")
    unrealized_pnl: Money = doc("qty × (last − average)")
    strategy: str = doc("strategy that opened it")


@view
class Order:
    order_id: str = doc("the broker's id")
    symbol: str = doc("ticker")
    side: str = doc("`buy`\\|`sell`")
    qty: Decimal = doc("shares")
    status: str = doc("the broker's status when submitted (`filled`, `accepted`, …)")
    submitted_utc: UtcTime = doc("when the broker took it")
    strategy: str = doc("strategy that sent it")
    bar_utc: UtcTime | None = doc("the bar it was decided on", default=None)


@view
class KillSwitchView:
    state: KillSwitchState = doc("`triggered` refuses every order until an operator reset")
    since_utc: UtcTime | None = doc("when it triggered")
    cause: str | None = doc("why it triggered")
    limit: Money | None = doc("the loss limit it last judged against")
    daily_pnl: Money | None = doc("the daily PnL it last judged")


@view
class MismatchRow:
    kind: str = doc(
        "`position`: the broker's quantity differs from the books (ledger lots); `open_order`: an open order at the "
        "broker this core did not place; `unreadable`: the comparison could not be made (blocks too, lifts by itself)"
    )
    symbol: str = doc("the symbol (empty for `unreadable`)")
    broker_qty: Decimal | None = doc("quantity at the broker (the order's quantity for `open_order`)")
    book_qty: Decimal | None = doc("quantity in the books (null for `open_order` and `unreadable`)")
    detail: str = doc("one line: what differs")


@view
class BrokerMismatch:
    blocking: bool = doc("true: new entries are refused (exits allowed) until `tbot control ack-mismatch`")
    found_utc: UtcTime = doc("when the comparison found it")
    cause: str = doc("which comparison: `engine start` or `broker resumed`")
    rows: tuple[MismatchRow, ...] = doc("every difference, positions first")
    acknowledged_by: str | None = doc("the operator who acknowledged it (null while blocking)")
    acknowledged_utc: UtcTime | None = doc("when it was acknowledged")


@view
class DefenseMode:
    active: bool = doc("limits compressed by the factor")
    factor: Decimal = doc("`DEFENSE_MODE_FACTOR`")


@view
class BeatView:
    age_seconds: float = doc("since the last good heartbeat")
    threshold_seconds: float = doc("the timeout")
    state: BeatState = doc("`suspended` (broker) refuses orders; `down` (feed) asks for a controlled stop")


@view
class WatchdogView:
    broker: BeatView = doc("broker heartbeat")
    feed: BeatView = doc("market data heartbeat")


@view
class VerdictRow:
    ts_utc: UtcTime = doc("the signal's bar time")
    strategy: str = doc("strategy that sent the signal")
    symbol: str = doc("ticker")
    side: str = doc("`buy`\\|`sell`")
    module: str = doc("the filter, or `risk_bot`, `kill_switch`, `watchdog_bot`, `supervisor`, `gate`")
    allow: bool = doc("allowed or blocked")
    reason: str = doc("why, in words")
    latency_us: float = doc("how long the module took")
    context: Any = doc("the module's inputs (object), null for the core's own checks", default=None)


@view
class EnhancementRow:
    module: str = doc("module name")
    enabled: bool = doc("its toggle")
    fatal: bool = doc("an error in it blocks instead of letting the trade proceed")
    status: EnhancementStatus = doc("`error` once it raised")
    allowed: int = doc("signals it allowed")
    blocked: int = doc("signals it blocked")
    last_reason: str = doc("its latest reason")


@view
class CheckRow:
    module: str = doc("module checked")
    ok: bool = doc("passed")
    detail: str = doc("what it found")
    hint: str = doc("what to do about a failure")
    checked_utc: UtcTime = doc("when")


@view
class MatrixRowView:
    key: str = doc("stable row id (`daily_loss`, `broker_down`, …)")
    event: str = doc("the seed's Event column")
    detection: str = doc("Detection")
    scope: str = doc("Scope")
    response: str = doc("Response")
    reboot: bool = doc("Reboot: whether the supervisor restarts the engine after it")
    state: MatrixRowState = doc("live state")
    last_utc: UtcTime | None = doc("when it last changed")
    cause: str | None = doc("why")


@view
class TuningStats:
    trades: int = doc("closed round trips")
    win_rate: Decimal | None = doc("wins / trades, null before the first trade")
    realized_pnl: Money = doc("realized PnL of those trades")
    max_drawdown: Money = doc("largest fall of cumulative PnL from its peak")
    avg_duration_s: float | None = doc("mean holding time of those trades in seconds, null before the first trade")
    blocks: Mapping[str, int] = doc("signals blocked, per module")


@view
class CoreState:
    """The whole file; ``StateWriter`` stamps ``schema`` and ``written_utc``."""

    schema: int = doc("`1`", default=SCHEMA_VERSION)
    written_utc: UtcTime = doc("when this file was written", default="")
    mode: CoreMode = doc(
        "`halted` = kill switch triggered; `suspended` = broker down (watchdog; also when it was down at start); "
        "`defense` = running with compressed limits; `blocked` = the startup pipeline refused launch "
        "(a self-check failed or a part could not be built), see `blocked_reason`"
    )
    core: CoreInfo = doc("the supervisor process")
    blocked_reason: str | None = section("only with `mode` `blocked`: every failed module and why, one line")
    workers: WorkersInfo | None = section("worker restarts and the engine's restart budget")
    identity: IdentityInfo | None = section("who this bot is")
    account: Account | None = section("the account at the latest marks; absent until the broker answered once")
    pnl: Pnl | None = section("daily PnL and the loss limit")
    exposure: Exposure | None = section("risk limits in use")
    positions: tuple[Position, ...] | None = section("open positions, by symbol")
    orders: tuple[Order, ...] | None = section("recent orders, newest first")
    kill_switch: KillSwitchView | None = section("the daily-loss kill switch")
    broker_mismatch: BrokerMismatch | None = section(
        "the broker's positions or open orders disagree with the books (checked at engine start and after every "
        "broker resume, `tbot_core/runtime/reconcile.py`); absent while they agree"
    )
    defense_mode: DefenseMode | None = section("compressed limits")
    watchdog: WatchdogView | None = section("heartbeats")
    verdicts: tuple[VerdictRow, ...] | None = section(
        "last `STATE_VERDICTS_KEPT` verdicts, **newest first** (the gate's filters, then risk, kill switch, watchdog)"
    )
    enhancements: tuple[EnhancementRow, ...] | None = section("one per enhancement module, registry order")
    self_check: tuple[CheckRow, ...] | None = section("the startup pipeline's results")
    emergency_matrix: tuple[MatrixRowView, ...] | None = section(
        "one per row of the seed's Emergency Event Matrix (`tbot_core/emergency.py`, same order). A snapshot's "
        "`mode` is never ahead of its rows: the core changes a row before the state the mode comes from, so "
        "`halted`, `suspended` or `defense` always arrives with the row that explains it"
    )
    config: Mapping[str, str] | None = section(
        "every `.env_bot` key with its value as text, secret-like values `***` (what `tbot config show` prints); "
        "the console's config screen shows this, so it never opens the vault"
    )
    tuning: Mapping[str, TuningStats] | None = section(
        "per strategy, written once the gate's tuning tracker has stats (until then the console says not published)"
    )

    def to_json(self) -> dict[str, Any]:
        return encode(self)

    @classmethod
    def from_json(cls, data: Any, *, strict: bool = False) -> CoreState:
        """Raises ``SchemaError``; ``strict`` refuses anything the core would not write."""
        return decode(cls, data, strict=strict)
