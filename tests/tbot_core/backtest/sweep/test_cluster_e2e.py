"""End to end on a cluster of separate processes: ``dask scheduler`` and one ``dask worker`` started as
subprocesses on 127.0.0.1, and the real ``tbot`` CLI sweeping through ``--scheduler``; its runs are the
same as those of a ``LocalCluster`` whose workers read the data from its path."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tbot_core.backtest.sweep.runner import dask_client
from tbot_core.errors import ConfigError
from tests.conftest import run_tbot
from tests.tbot_core.backtest.sweep.conftest import FAST, GRID_2D, IDENTITY, figures, read_runs, sweep

DASK = str(Path(sys.executable).with_name("dask"))


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_for_port(port: int, process: subprocess.Popen[bytes], deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise AssertionError(f"dask scheduler exited with {process.returncode}")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.2):
                return
        except OSError:
            time.sleep(0.1)
    raise AssertionError("dask scheduler did not listen in time")


def _stop(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


@pytest.fixture
def dask_processes(tmp_path: Path) -> Iterator[str]:
    port = _free_port()
    address = f"tcp://127.0.0.1:{port}"
    logs = open(tmp_path / "dask.log", "wb")  # noqa: SIM115 - closed below, after both processes end
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(port), "--no-dashboard"],
        stdout=logs,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    worker = None
    try:
        _wait_for_port(port, scheduler, time.monotonic() + 30)
        worker = subprocess.Popen(
            [DASK, "worker", address, "--nworkers", "1", "--nthreads", "1", "--no-dashboard", "--host", "127.0.0.1"],
            stdout=logs,
            stderr=subprocess.STDOUT,
            cwd=tmp_path,
            env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[4])},
        )
        yield address
    finally:
        if worker is not None:
            _stop(worker)
        _stop(scheduler)
        logs.close()


def test_a_sweep_through_dask_scheduler_and_worker_processes_matches_the_local_cluster(
    home_paths, dask_processes, scheduler
):
    result = run_tbot("backtest", "sweep", *FAST, *GRID_2D, f"--scheduler={dask_processes}", home=home_paths.root)
    assert result.returncode == 0, result.stderr
    assert "6 runs (6 ran, 0 already done)" in result.stdout and "data by scatter" in result.stdout
    sid = home_paths.sweep_ids(IDENTITY)[0]
    on_cluster = read_runs(home_paths.sweep_runs_csv(IDENTITY, sid))

    local = sweep(home_paths, *FAST, *GRID_2D, f"--scheduler={scheduler}", "--ship-data=path")
    assert local.sweep_id == sid, "the same sweep, named the same"
    assert figures(read_runs(home_paths.sweep_runs_csv(IDENTITY, sid))) == figures(on_cluster)


def test_by_default_a_local_cluster_has_one_single_threaded_worker_process_per_core():
    with dask_client(None, None) as client:
        threads = client.nthreads()
        pids = client.run(os.getpid)
    assert list(threads.values()) == [1] * (os.cpu_count() or 1)
    assert len(set(pids.values())) == len(threads) and os.getpid() not in pids.values()


def test_an_unreachable_scheduler_is_one_line():
    port = _free_port()
    with pytest.raises(ConfigError, match=f"--scheduler: cannot reach tcp://127.0.0.1:{port}"):
        with dask_client(None, f"tcp://127.0.0.1:{port}"):
            pass
    with pytest.raises(ConfigError, match="--scheduler: expected tcp://HOST:PORT"):
        with dask_client(None, "127.0.0.1:8786"):
            pass
