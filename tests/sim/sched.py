"""Sim time and a deterministic scheduler for the core's real threads.

Why threads at all: the supervisor, the engine and the watchdog are written as
threads that meet only where they wait (``Event.wait``) or start each other.
Running them as real threads but letting exactly one run at a time, in the
order of their sim-time wake-ups, keeps every line of production code while
making one seed one interleaving: the same seed always replays the same run.

Why not plain functions: a SIGKILL must leave a life's call stacks exactly where
they were, with no ``finally`` block run.  A parked thread that is never given
the baton again is that; it is only released (and unwound against closed
connections in a dead home) once the seed is over.
"""

from __future__ import annotations

import heapq
import threading
from collections.abc import Callable
from typing import Any

# Order among tasks that wake at the same sim instant: the driver injects faults first, then the core's threads.
PRIORITY = {"driver": 0, "supervisor": 1, "watchdog": 2, "engine": 3}
POLL = 0.05  # how often an untimed wait looks again, in sim seconds


class SimKilled(BaseException):
    """Raised inside a task of a dead life (killed, or the seed is over) when it runs again, so it unwinds."""


class SimClock:
    """The monotonic clock the core reads through its ``clock`` seam; only the scheduler moves it."""

    def __init__(self, start: float = 1000.0) -> None:
        self.now = start

    def __call__(self) -> float:
        return self.now


class Task:
    """A thread as the core sees it (``is_alive``, ``join``, ``name``), run by the scheduler."""

    def __init__(self, sched: Scheduler, name: str, life: int) -> None:
        self.sched, self.name, self.life = sched, name, life
        self.go = threading.Event()
        self.done = False
        self.dead = False  # its process was killed or exited: it never runs again in this seed
        self.error: BaseException | None = None
        self.thread: threading.Thread | None = None
        self.token = 0  # the heap entry that is its current wake-up; older entries are stale
        self.joiners: list[Task] = []  # tasks in ``join`` on this one: woken the instant it ends

    def is_alive(self) -> bool:
        return not self.done and not self.dead

    def join(self, timeout: float | None = None) -> None:
        self.sched.join(self, timeout)

    def __repr__(self) -> str:
        return f"<Task {self.name} life={self.life}{' done' if self.done else ''}{' dead' if self.dead else ''}>"


class Scheduler:
    """Hands one baton between tasks in sim-time order; ties go by ``PRIORITY`` then by creation order."""

    def __init__(self, clock: SimClock) -> None:
        self.clock = clock
        self._heap: list[tuple[float, int, int, Task]] = []
        self._seq = 0
        self.over = False
        self.tasks: list[Task] = []
        self.driver = Task(self, "driver", 0)
        self.driver.thread = threading.current_thread()
        self.current: Task = self.driver
        self.life = 0  # the life new tasks belong to

    # -- the core's seams ----------------------------------------------------------------
    def spawn(self, target: Callable[[], None], name: str) -> Task:
        """``spawn`` seam of the supervisor/watchdog: a thread that waits for the baton before its first line."""
        task = Task(self, name, self.life)
        self.tasks.append(task)

        def body() -> None:
            task.go.wait()
            task.go.clear()
            try:
                if not task.dead and not self.over:
                    target()
            except SimKilled:
                pass
            except BaseException as exc:
                task.error = exc
            finally:
                task.done = True
                for joiner in task.joiners:
                    self.wake(joiner)
                if self.current is task and not task.dead and not self.over:
                    self._switch(task, park=False)

        task.thread = threading.Thread(target=body, name=f"sim-{name}-{task.life}", daemon=True)
        task.thread.start()
        self._push(task, self.clock.now)
        return task

    def sleep(self, seconds: float) -> None:
        """The current task gives up the baton for ``seconds`` of sim time."""
        me = self.current
        if me.dead or self.over:
            raise SimKilled()
        self._push(me, self.clock.now + max(0.0, seconds))
        self._switch(me, park=True)

    def wake(self, task: Task) -> None:
        """Bring a parked task's wake-up forward to now (an ``Event.set`` it waits on)."""
        if task is not self.current and task.is_alive():
            self._push(task, self.clock.now)

    def join(self, task: Task, timeout: float | None) -> None:
        deadline = float("inf") if timeout is None else self.clock.now + timeout
        me = self.current
        task.joiners.append(me)
        try:
            while task.is_alive() and task is not me and self.clock.now < deadline:
                self.sleep(min(1.0, deadline - self.clock.now))
        finally:
            task.joiners.remove(me)

    def park_forever(self) -> None:
        """The current task's process is gone (``os._exit``): give the baton away and never come back."""
        me = self.current
        me.dead = True
        self._switch(me, park=True)

    # -- lives --------------------------------------------------------------------------
    def kill_life(self, life: int, *, keep: Task | None = None) -> None:
        """SIGKILL: every task of ``life`` (but ``keep``) stops where it is parked; none of its ``finally`` runs now."""
        for task in self.tasks:
            if task.life == life and task is not keep:
                task.dead = True

    def release_all(self, timeout: float = 2.0) -> None:
        """The seed is over: let every parked task unwind (``SimKilled``), then wait for the threads a little."""
        self.over = True
        for task in self.tasks:
            task.dead = True
            task.go.set()
        for task in self.tasks:
            if task.thread is not None and task.thread is not threading.current_thread():
                task.thread.join(timeout)

    # -- internals ------------------------------------------------------------------------
    def _push(self, task: Task, wake: float) -> None:
        self._seq += 1
        task.token = self._seq
        heapq.heappush(self._heap, (wake, PRIORITY.get(task.name, 9), self._seq, task))

    def _switch(self, me: Task, *, park: bool) -> None:
        while True:
            wake, _prio, seq, nxt = heapq.heappop(self._heap)
            if not nxt.dead and not nxt.done and seq == nxt.token:
                break
        self.clock.now = max(self.clock.now, wake)
        self.current = nxt
        if nxt is me:
            return
        nxt.go.set()
        if park:
            me.go.wait()
            me.go.clear()
            if me.dead or self.over:
                raise SimKilled()


class SimEvent(threading.Event):
    """``threading.Event`` whose timed wait passes sim time through the scheduler instead of sleeping."""

    def __init__(self, sched: Scheduler) -> None:
        super().__init__()
        self.sched = sched
        self._waiters: list[Task] = []

    def set(self) -> None:
        """As in ``threading``: every waiter returns at once (here: is woken at the current sim instant)."""
        super().set()
        waiters, self._waiters = self._waiters, []
        for task in waiters:
            self.sched.wake(task)

    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        me = self.sched.current
        self._waiters.append(me)
        try:
            if timeout is not None:
                self.sched.sleep(timeout)
            else:
                while not self.is_set():
                    self.sched.sleep(POLL)
        finally:
            if me in self._waiters:
                self._waiters.remove(me)
        return self.is_set()


def any_thread_alive(tasks: list[Any]) -> bool:
    return any(t.is_alive() for t in tasks)
