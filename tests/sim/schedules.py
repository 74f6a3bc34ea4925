"""Fault schedules: what goes wrong, and when, in one seed's run.

A schedule is a plain list of ``Fault``s drawn from the seed, so a failing run
can be printed, replayed and shrunk (drop faults one by one while it still
fails).  Steps are sim seconds from the first start of the core.

Each kind says what the core owes us: ``transient`` faults must never end the
core; ``fatal`` ones must end it (or block or halt it) by the end of the run;
``hard`` ones (I/O errors, a full disk, a notifier that raises inside a
worker) may go either way, as long as every other invariant holds: stopping is
an acceptable way to fail closed there.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

TRANSIENT = {
    "broker_down",
    "slow_heartbeat",
    "filter_error",
    "feed_stall",
    "feed_error",
    "engine_error",
    "short_hang",
    "clock_leap",
    "garbled_flag",
    "duplicate_flag",
    "racing_flags",
    "defense_flags",
    "crash_prices",
    "sigkill",
    "broker_rejects",
    "partial_fills",
    "torn_wal",
    "dst",
}
FATAL = {"engine_bug", "long_hang"}
HARD = {"disk", "notifier_raises"}
# The host's zone and the bars' first minute for a ``dst`` run: each crosses a DST change in that zone.
DST_RUNS = {
    "new_york_spring": ("America/New_York", "2026-03-08T06:50:00Z"),  # 01:50 EST -> 03:00 EDT at 07:00Z
    "london_fall": ("Europe/London", "2026-10-25T00:50:00Z"),  # 01:50 BST -> 01:00 GMT at 01:00Z: an hour twice
    "santiago_midnight": ("America/Santiago", "2026-09-06T03:50:00Z"),  # local midnight skipped, UTC date stays
}
OPERATOR = {"operator_kill", "operator_reset", "operator_stop"}  # not faults: requests the core must honour


@dataclass(frozen=True, order=True)
class Fault:
    at: int  # sim second (step) it starts
    kind: str
    arg: str = ""  # kind-specific: a duration, a database, an event name ...

    def __str__(self) -> str:
        return f"{self.kind}@{self.at}" + (f"({self.arg})" if self.arg else "")


@dataclass
class Schedule:
    seed: int
    faults: list[Fault] = field(default_factory=list)
    crash_at_bar: int | None = None  # bar index where prices fall 30 %: a sudden loss past DAILY_LOSS_LIMIT

    def describe(self) -> str:
        return (
            ", ".join(str(f) for f in sorted(self.faults))
            + (f", crash_prices@bar{self.crash_at_bar}" if self.crash_at_bar is not None else "")
            or "no faults"
        )

    def without(self, index: int) -> Schedule:
        faults = sorted(self.faults)
        return Schedule(self.seed, faults[:index] + faults[index + 1 :], self.crash_at_bar)

    def kinds(self) -> set[str]:
        return {f.kind for f in self.faults} | ({"crash_prices"} if self.crash_at_bar is not None else set())


def _one(rng: random.Random, horizon: int) -> list[Fault]:
    """One fault (a flapping broker is several outages) drawn by weight."""
    at = rng.randrange(0, horizon)
    kind = rng.choices(
        [
            "broker_down",
            "broker_flap",
            "broker_at_start",
            "feed_stall",
            "feed_error",
            "engine_error",
            "engine_bug",
            "short_hang",
            "long_hang",
            "notifier_raises",
            "disk",
            "sigkill",
            "garbled_flag",
            "duplicate_flag",
            "racing_flags",
            "defense_flags",
            "operator_kill",
            "operator_reset",
            "operator_stop",
            "clock_leap",
            "slow_heartbeat",
            "filter_error",
            "broker_rejects",
            "partial_fills",
            "torn_wal",
            "dst",
        ],
        weights=[8, 5, 4, 5, 3, 5, 2, 2, 1, 2, 8, 8, 3, 3, 3, 2, 3, 2, 2, 3, 3, 3, 3, 3, 4, 3],
    )[0]
    if kind == "broker_at_start":
        return [Fault(0, "broker_down", str(rng.choice([2, 5, 12])))]
    if kind == "broker_flap":
        period = rng.choice([1, 2, 4])
        return [Fault(at + i * 2 * period, "broker_down", str(period)) for i in range(rng.randint(2, 5))]
    if kind == "broker_down":
        return [Fault(at, kind, str(rng.choice([1, 2, 4, 8, 20])))]
    if kind == "feed_stall":
        return [Fault(at, kind, str(rng.choice([2, 6, 10])))]
    if kind in {"short_hang", "long_hang"}:
        return [Fault(at, kind, "3")] if kind == "short_hang" else [Fault(at, kind)]  # long: every bar, 60 s
    if kind == "notifier_raises":
        return [
            Fault(
                at,
                kind,
                rng.choice(
                    ["broker_suspended", "kill_switch_triggered", "worker_restarted", "feed_down_controlled_stop"]
                ),
            )
        ]
    if kind == "disk":
        db = rng.choice(["core.db", "ledger.db", "audit.db"])
        return [Fault(at, kind, f"{db}:{rng.choice(['io', 'full'])}:{rng.choice([1, 2, 5])}:{rng.choice([1, 1, 3])}")]
    if kind == "sigkill":
        return [Fault(at, kind, str(rng.choice([0, 1, 3])))]  # restart delay
    if kind == "racing_flags":
        return [Fault(at, kind, rng.choice(["kill+reset", "stop+start", "reset+kill"]))]
    if kind == "garbled_flag":
        return [Fault(at, kind, rng.choice(["reset", "kill", "stop", "start"]))]
    if kind == "filter_error":
        return [Fault(at, kind, str(rng.choice([3, 10])))]  # every filter raises for this many seconds
    if kind == "slow_heartbeat":
        return [Fault(at, kind, str(rng.choice([0.5, 2.5])))]
    if kind in {"broker_rejects", "partial_fills"}:
        return [Fault(at, kind, str(rng.choice([3, 8, 20])))]  # every order in this many seconds
    if kind == "torn_wal":  # SIGKILL mid-write: a torn frame at the tail of one database's WAL, then a restart
        return [Fault(at, kind, f"{rng.choice(['core.db', 'ledger.db', 'audit.db'])}:{rng.randrange(1, 4096)}")]
    if kind == "dst":  # the whole run: bars across a DST change, the process in that zone (see tests/sim/host.py)
        return [Fault(0, kind, rng.choice(sorted(DST_RUNS)))]
    if kind == "clock_leap":
        return [Fault(at, kind, str(rng.choice([5, 30, 400])))]
    return [Fault(at, kind)]


def draw(seed: int, *, horizon: int = 32) -> Schedule:
    """The schedule of ``seed``: 0 to 5 faults in the first ``horizon`` sim seconds, maybe a price crash."""
    rng = random.Random(seed)
    faults: list[Fault] = []
    for _ in range(rng.choice([0, 1, 1, 2, 2, 3, 3, 4, 5])):
        faults.extend(_one(rng, horizon))
    crash = rng.randrange(8, 44) if rng.random() < 0.25 else None
    return Schedule(seed, sorted(faults), crash)


def parse(seed: int, text: str) -> Schedule:
    """The inverse of ``describe`` (for ``--schedule``): ``kind@at(arg), ...``."""
    faults, crash = [], None
    for item in filter(None, (part.strip() for part in text.split(","))):
        head, _, arg = item.partition("(")
        kind, _, at = head.partition("@")
        if kind == "crash_prices":
            crash = int(at.removeprefix("bar"))
            continue
        faults.append(Fault(int(at), kind, arg.rstrip(")")))
    return Schedule(seed, sorted(faults), crash)
