"""One seed, one run of the real core on a sim clock, with the seed's faults, checked as it goes.

The core here is the production one: ``Supervisor.run`` (startup pipeline, flag
handling, worker checks, restart policy, publish), the engine thread, the
watchdog thread, the paper broker on ``core.db``, the replay feed, the gate,
risk bot, kill switch, ledger and audit log, in a real encrypted home.  The
simulator only passes seams: its clock, its thread scheduler (``sched``),
``SimEvent`` waits, and the fakes of ``tests/fakes/faults.py`` through
``wiring.Fakes``.  The driver (this thread) wakes every sim second to inject
the faults due and to check the invariants (``invariants.py``); what the fakes
ask on the core's threads is answered by the fault windows (``fault_windows.py``).

SIGKILL is the driver parking every thread of the life where it stands,
dropping its database connections and its core lock, and starting a fresh
``Supervisor`` on the same home: what a restart after ``kill -9`` sees.
"""

from __future__ import annotations

import contextlib
import io
import random
import shutil
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import apsw

from tbot_core.control import Operator, write_flag
from tbot_core.home import BotHome
from tbot_core.runtime.supervisor import Supervisor
from tbot_core.runtime.wiring import Fakes
from tbot_core.timeutil import parse_iso_z
from tests.fakes.faults import (
    DiskFaults,
    HookedStrategy,
    RecordingNotifier,
    SteppedFeed,
    SwitchedBroker,
    faulty_filters,
)
from tests.sim import invariants
from tests.sim.fault_windows import FaultWindows
from tests.sim.home import SECRETS, SimHome, release_lock_fds, tmp_root, write_bars
from tests.sim.host import host_zone, tear_wal_tail
from tests.sim.sched import Scheduler, SimClock, SimEvent
from tests.sim.schedules import DST_RUNS, Schedule

BAR_SECONDS = 0.6
MAX_STEPS = 160
SETTLE_STEPS = 8  # after the last fault: time for restarts, resumes and the feed's end
OPERATOR = Operator("sim-operator", None)


@dataclass
class Life:
    number: int
    sup: SimSupervisor
    started_step: int
    exit_code: int | None = None
    killed: bool = False
    ended_step: int | None = None


@dataclass
class Result:
    seed: int
    schedule: Schedule
    violations: list[invariants.Violation] = field(default_factory=list)
    steps: int = 0
    lives: int = 0
    orders: int = 0
    exit_code: int | None = None
    fingerprint: str = ""  # the audit log's event sequence and the orders: equal for two runs of one seed
    events: frozenset[str] = frozenset()  # every audit event name the run wrote
    fired: frozenset[str] = frozenset()  # the fault kinds that actually hit the core

    @property
    def ok(self) -> bool:
        return not self.violations


class SimSupervisor(Supervisor):
    """The production supervisor with the simulator's clock, threads and waits; nothing else differs."""

    def __init__(self, home: BotHome, fakes: Fakes, sim: Sim) -> None:
        super().__init__(home, fakes, clock=sim.clock, spawn=sim.sched.spawn)
        self.sim = sim
        self.stop_requested = SimEvent(sim.sched)
        self.control.stop = SimEvent(sim.sched)
        self.state.min_interval_s = float("inf")  # state.json is written when the driver checks it (deterministic)

    def build_parts(self) -> None:
        super().build_parts()
        self.watchdog._stop = SimEvent(self.sim.sched)
        self.errors._rng = random.Random(self.sim.seed)  # retry jitter from the seed: one seed, one run

    def _install_signals(self) -> None:
        """No signals in a simulated process (and this is not the main thread)."""

    def exit_process(self, code: int) -> None:
        """``os._exit``: the process ends where it stands, no ``finally`` runs."""
        self.sim.process_exited(self, code)
        self.sim.sched.park_forever()


class Sim(FaultWindows):
    def __init__(self, schedule: Schedule, template: SimHome, workdir: Path) -> None:
        self.schedule, self.seed, self.template = schedule, schedule.seed, template
        self.root = workdir / f"seed-{self.seed}"
        self.clock = SimClock()
        self.sched = Scheduler(self.clock)
        self.t0 = self.clock.now
        self.step = 0
        self.lives: list[Life] = []
        self.sent: list[tuple[str, str, dict]] = []  # every alert the core raised, across lives
        self.orders: list[dict[str, Any]] = []
        self.violations: list[invariants.Violation] = []
        self.fired: set[str] = set()  # fault kinds that actually hit the core
        self.fatal_life = 0  # the life a fatal fault last hit (a SIGKILL after it wipes the slate)
        self.restart_at: int | None = None
        self.out = io.StringIO()
        self.checker = invariants.Checker(self)
        super().__init__()  # the fault windows, empty until _plan fills them
        self.vfs: DiskFaults | None = None
        dst = next((f.arg for f in schedule.faults if f.kind == "dst"), None)
        self.zone, self.first_bar = DST_RUNS[dst] if dst else (None, None)
        self.bar_days: set[str] = set()  # the UTC dates of the seed's bars

    # -- time ---------------------------------------------------------------------------
    def now(self) -> float:
        return self.clock.now - self.t0

    @property
    def life(self) -> Life:
        return self.lives[-1]

    # -- the run ------------------------------------------------------------------------
    def run(self) -> Result:
        with host_zone(self.zone):
            if self.zone:
                self.fired.add("dst")
            return self._run()

    def _run(self) -> Result:
        self.template.copy_to(self.root)
        start = {} if self.first_bar is None else {"start": int(parse_iso_z(self.first_bar).timestamp())}
        self.bar_days = write_bars(self.root, self.seed, self.schedule.crash_at_bar, **start)
        if any(f.kind == "disk" for f in self.schedule.faults):
            self.vfs = DiskFaults()  # hooked on every connection opened from now until the seed ends
        self._plan()
        try:
            with contextlib.redirect_stdout(self.out), contextlib.redirect_stderr(self.out):
                self._start_life()
                last = max((f.at for f in self.schedule.faults), default=0)
                while self.step < MAX_STEPS:
                    self._inject(self.step)
                    self.checker.each_step()
                    if self._finished(last):
                        break
                    self.sched.sleep(1.0)
                    self.step += 1
                if self.vfs is not None:
                    self.vfs.targets.clear()  # the end state is judged as the next start would read it
                self.checker.at_end()
        finally:
            if self.vfs is not None:
                self.vfs.targets.clear()
                self.vfs.close()
            self._sever(self.life)
            self.sched.release_all()
        self.checker.trace.update(repr([(o["step"], o["client_order_id"]) for o in self.orders]).encode())
        return Result(
            self.seed,
            self.schedule,
            self.violations,
            self.step,
            len(self.lives),
            len(self.orders),
            self.life.exit_code,
            self.checker.trace.hexdigest()[:16],
            frozenset(self.checker.events),
            frozenset(self.fired),
        )

    def _finished(self, last_fault: int) -> bool:
        if self.step < last_fault + SETTLE_STEPS or self.restart_at is not None:
            return False
        life = self.life
        if life.exit_code is not None or life.killed:
            return True
        return life.sup.engine_finished() == "feed_ended"

    # -- lives ----------------------------------------------------------------------------
    def _start_life(self) -> None:
        self.sched.life += 1
        number = self.sched.life
        fakes = Fakes(
            broker=lambda b: SwitchedBroker(
                b,
                down=self.broker_down,
                before_submit=self.before_submit,
                leak=SECRETS.leak,
                slow=self.heartbeat_delay,
                sleep=self.sched.sleep,
                rejects=lambda: self._window_on(self._rejects, "broker_rejects"),
                partial=lambda: self._window_on(self._partials, "partial_fills"),
            ),
            feed=lambda f: SteppedFeed(
                f, sleep=self.sched.sleep, bar_seconds=BAR_SECONDS, stalled=self.feed_stalled, fail=self.feed_fails
            ),
            notifier=lambda n: RecordingNotifier(n, sent=self.sent, raises=self.notifier_raises),
            strategies=lambda _s: [HookedStrategy(3, self.strategy_hook)],
            gate=lambda g: faulty_filters(g, self.filter_raises),
        )
        sup = SimSupervisor(BotHome(str(self.root)), fakes, self)
        life = Life(number, sup, self.step)
        self.lives.append(life)

        def main() -> None:
            try:
                code = sup.run()
            except Exception as exc:
                if self.sched.over:
                    return  # a dead life unwinding after the seed: nothing to record
                print(f"core died of an uncaught {type(exc).__name__}: {exc}")
                code = 1
            if self.sched.over:
                return
            life.exit_code, life.ended_step = code, self.step
            self.sched.kill_life(number, keep=self.sched.current)  # the process is gone: so are its threads
            self.checker.life_ended(life)

        self.sched.spawn(main, "supervisor")

    def process_exited(self, sup: SimSupervisor, code: int) -> None:
        life = next(candidate for candidate in self.lives if candidate.sup is sup)
        life.exit_code, life.ended_step = code, self.step
        self.sched.kill_life(life.number, keep=None)
        self._sever(life)
        self.checker.life_ended(life)

    def _kill(self, restart_after: int, *, keep_wal: bool = False) -> bool:
        life = self.life
        if life.exit_code is not None or life.killed:
            return False
        life.killed, life.ended_step = True, self.step
        self.sched.kill_life(life.number, keep=None)
        self._sever(life, keep_wal=keep_wal)
        self.fired.add("sigkill")
        self.checker.life_ended(life)
        self.restart_at = self.step + restart_after
        return True

    def _sever(self, life: Life, *, keep_wal: bool = False) -> None:
        """What the kernel does for a dead process: its connections and its lock file go away.

        ``keep_wal``: no checkpoint on close, so the write-ahead logs stay on disk as a killed process leaves them.
        """
        sup = life.sup
        for conn in (getattr(sup.store, "conn", None), getattr(getattr(sup.ctx, "audit", None), "conn", None)):
            with contextlib.suppress(Exception):
                if conn is not None:
                    if keep_wal:
                        conn.config(apsw.SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE, 1)
                    conn.close(True)
        release_lock_fds(sup.paths.core_lock)

    # -- faults -----------------------------------------------------------------------------
    def _inject(self, step: int) -> None:
        if self.restart_at is not None and step >= self.restart_at:
            self.restart_at = None
            self._start_life()
        for f in self.schedule.faults:
            if f.at == step:
                self._apply(f)

    def _apply(self, f: Any) -> None:
        paths = self.life.sup.paths

        def flag(name: str, reason: str = "") -> Any:
            return write_flag(paths, name, reason=reason, operator=OPERATOR)

        if f.kind == "sigkill":
            self._kill(int(f.arg))
        elif f.kind == "torn_wal":
            db, length = f.arg.split(":")
            if self._kill(1, keep_wal=True):
                self.checker.close()  # no open connection left: the next open must recover the WAL from disk
                if tear_wal_tail(self.root / "db" / db, self.seed, int(length)):
                    self.fired.add("torn_wal")
        elif f.kind == "disk" and self.vfs is not None:
            db, kind, after, count = f.arg.split(":")
            self.vfs.arm(db, kind, int(after), int(count))
            self.fired.add("disk")
        elif f.kind == "clock_leap":
            self.clock.now += float(f.arg)
            self.fired.add("clock_leap")
        elif f.kind == "operator_kill":
            flag("kill", "sim operator halts the bot")
        elif f.kind == "operator_reset":
            flag("reset", "sim operator reviewed the halt")
        elif f.kind == "operator_stop":
            flag("stop", "sim operator stops the core")
            self.fired.add("operator_stop")
            self.restart_at = f.at + 4  # and starts it again a little later
        elif f.kind == "defense_flags":
            flag("defense_on")
        elif f.kind == "garbled_flag":
            paths.control_dir.mkdir(parents=True, exist_ok=True)
            (paths.control_dir / f"control_{f.arg}.flag").write_bytes(b'{"flag": "' + f.arg.encode() + b'", "reason": ')
        elif f.kind == "duplicate_flag":
            record = flag("reset", "sim operator reviewed the halt (sent twice)")
            src = next(paths.control_dir.glob(f"control_reset.*.{record.nonce}.flag"), None)
            if src is not None:
                shutil.copyfile(src, paths.flag_file("reset"))
        elif f.kind == "racing_flags":
            first, second = f.arg.split("+")
            for name in (first, second):
                flag(name, f"sim operator races {f.arg}")
            if "stop" in f.arg:
                self.fired.add("operator_stop")
                self.restart_at = f.at + 4

    def before_submit(self, request: Any) -> None:
        self.orders.append({"step": self.step, "client_order_id": request.client_order_id, "side": request.side})
        self.checker.before_order(request)


def run_seed(
    seed: int,
    schedule: Schedule | None = None,
    *,
    template: SimHome | None = None,
    workdir: Path | None = None,
    keep: bool = False,
) -> Result:
    """Run one seed (its drawn schedule unless one is given); the home is deleted unless ``keep``."""
    from tests.sim.schedules import draw

    template = template or SimHome.shared()
    schedule = schedule or draw(seed)
    own = workdir is None
    workdir = workdir or Path(tempfile.mkdtemp(prefix="tbot-sim-", dir=tmp_root()))
    sim = Sim(schedule, template, workdir)
    try:
        return sim.run()
    finally:
        if keep:
            print(f"seed {seed}: home kept at {sim.root}")
        else:
            shutil.rmtree(sim.root, ignore_errors=True)
            if own:
                shutil.rmtree(workdir, ignore_errors=True)
