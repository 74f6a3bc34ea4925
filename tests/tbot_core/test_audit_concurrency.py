"""The audit log is the one append path, safe from any thread and any process at once."""

from __future__ import annotations

import subprocess
import sys
import threading

from tbot_core.audit import AuditLog
from tbot_core.home_init import init_home
from tests.tbot_core.runtime.core_harness import REPO

PER_THREAD = 1500
PER_PROCESS = 1500
WRITER = """
import sys
from tbot_core.audit import AuditLog
log = AuditLog(__import__("pathlib").Path(sys.argv[1]))
for i in range(int(sys.argv[2])):
    log.append("proc", "appended", {"i": i, "pid": sys.argv[3]})
log.close()
"""


def test_threads_and_two_processes_appending_at_once_keep_one_verified_chain(tmp_path):
    paths, _ = init_home(tmp_path / "home")
    log = AuditLog(paths.audit_db)
    before = log.count()
    errors: list[BaseException] = []

    def append(name: str) -> None:
        try:
            for i in range(PER_THREAD):
                log.append("thread", "appended", {"i": i, "thread": name})
                if i % 100 == 0:
                    log.tail(5)  # reads share the connection too
        except BaseException as exc:
            errors.append(exc)

    procs = [
        subprocess.Popen([sys.executable, "-c", WRITER, str(paths.audit_db), str(PER_PROCESS), str(n)], cwd=REPO)
        for n in range(2)
    ]
    threads = [threading.Thread(target=append, args=(f"t{n}",)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [p.wait(120) for p in procs] == [0, 0]
    assert errors == []
    assert log.verify() == before + 4 * PER_THREAD + 2 * PER_PROCESS
    log.close()
    verify = subprocess.run(
        [sys.executable, "-m", "tbot_core.cli.main", "audit", "verify", "--home", str(paths.root)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert verify.returncode == 0, verify.stdout + verify.stderr
