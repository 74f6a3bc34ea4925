"""Runs as Dask tasks: a ``LocalCluster`` by default, or an existing cluster (``--scheduler``).

The client keeps a bounded number of tasks in flight (two per worker thread): enough that no worker
waits for the next task, few enough that a million-point grid never holds a million futures, and a
Ctrl-C loses at most those in flight.  A long sweep packs a few runs into one task so Dask's per-task
cost is shared.  Each finished task's runs are appended to the journal at once; a run
already in the journal (``--resume``) or already run in this sweep (optuna may ask for a point twice)
is not run again.
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from tbot_core.backtest.sweep.journal import Journal
from tbot_core.backtest.sweep.progress import Progress
from tbot_core.backtest.sweep.task import DataBundle, DataSource, RunTask, load_bundle, run_tasks
from tbot_core.errors import ConfigError

# Tasks in flight per worker thread: one running, one queued behind it, so no worker waits for the client.
IN_FLIGHT_PER_THREAD = 2
# A long sweep sends up to MAX_CHUNK runs per task (at least CHUNKS_PER_THREAD tasks per thread, for balance):
# the per-task cost (schedule, ship back, journal fsync) is paid once per chunk, not once per run.
MAX_CHUNK = 8
CHUNKS_PER_THREAD = 4


@contextmanager
def _workers_ignore_ctrl_c() -> Iterator[None]:
    """Start worker processes with SIGINT ignored (an ignored signal stays ignored in a spawned child).

    Ctrl-C reaches the whole foreground process group: the client must see it (and stop the sweep,
    keeping the journal), the local workers must not (each would print a KeyboardInterrupt traceback);
    the client closes them itself.
    """
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def dask_client(workers: int | None, scheduler: str | None) -> Iterator[Any]:
    """A client on a new local cluster (one single-threaded worker process per core) or on ``scheduler``."""
    import os

    from distributed import Client, LocalCluster

    if scheduler:
        if not scheduler.startswith(("tcp://", "tls://")):
            raise ConfigError(f"--scheduler: expected tcp://HOST:PORT, got {scheduler[:40]!r}")
        try:
            client = Client(scheduler, timeout="5s")
        except (OSError, TimeoutError) as exc:
            raise ConfigError(f"--scheduler: cannot reach {scheduler[:60]} ({type(exc).__name__})") from None
        try:
            yield client
        finally:
            client.close()
        return
    count = workers if workers is not None else os.cpu_count() or 1
    if count < 1:
        raise ConfigError(f"--workers: expected a number >= 1, got {count}")
    # dashboard_address=None still binds :8787 for the scheduler's HTTP routes; ":0" takes any free port,
    # so two sweeps (or a sweep beside another cluster) never collide.
    with _workers_ignore_ctrl_c():
        cluster = LocalCluster(
            n_workers=count, threads_per_worker=1, processes=True, dashboard_address=":0", silence_logs=50
        )
    client = Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()


class Runner:
    """Runs ``RunTask`` lists on a client and returns the figures in task order."""

    def __init__(
        self,
        client: Any,
        source: DataSource,
        ship: str,
        journal: Journal,
        done: dict[str, dict[str, Any]],
        progress: Progress,
        observer: Callable[[dict[str, Any]], None] | None = None,
        *,
        bundle: DataBundle | None = None,
    ) -> None:
        self.client = client
        self.journal = journal
        self.done = done
        self.progress = progress
        self.observer = observer
        self.ran = 0
        self.reused = 0  # in the journal (--resume), or the same run earlier in this sweep (a walk-forward
        # test window is the next fold's train window; optuna may ask for a point twice)
        self.ship = ship
        self.data: Any = source
        if ship == "scatter":
            [self.data] = client.scatter([bundle or load_bundle(source)], broadcast=True)
        self.threads = sum(client.nthreads().values()) or 1

    def evaluate(self, tasks: list[RunTask]) -> list[dict[str, Any]]:
        from distributed import as_completed

        todo: list[RunTask] = []
        queued: set[str] = set()
        for task in tasks:
            if task.run_id in self.done:
                if task.run_id not in queued:
                    self.reused += 1
                    self.progress.tick(ran=False)
            elif task.run_id not in queued:
                todo.append(task)
            queued.add(task.run_id)
        size = max(1, min(MAX_CHUNK, len(todo) // (self.threads * CHUNKS_PER_THREAD)))
        pending = iter([todo[i : i + size] for i in range(0, len(todo), size)])
        futures = as_completed(loop=self.client.loop)
        for number, chunk in enumerate(pending, start=1):
            futures.add(self._submit(chunk))
            if number >= IN_FLIGHT_PER_THREAD * self.threads:
                break
        try:
            for future in futures:
                rows = future.result()
                self.journal.append_many(rows)
                for row in rows:
                    self.done[row["run_id"]] = row
                    self.ran += 1
                    self.progress.tick()
                    if self.observer is not None:
                        self.observer(row)
                nxt = next(pending, None)
                if nxt is not None:
                    futures.add(self._submit(nxt))
        except BaseException:
            self.client.cancel(list(futures.futures))
            raise
        return [self.done[task.run_id] for task in tasks]

    def _submit(self, chunk: list[RunTask]) -> Any:
        key = f"sweep-runs-{chunk[0].run_id}-{len(chunk)}"
        return self.client.submit(run_tasks, chunk, self.data, key=key, pure=False)
