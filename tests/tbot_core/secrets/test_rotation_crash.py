"""Crash safety: SIGKILL a rotating process at 40 moments; the next start always finds one complete generation.

A child process changes a secret (a full rotation).  Explicit crash points
(``crashpoints.arm`` in the child) cover every step of the rotation, each artifact write and
the removal of the old generation; random delays after a "go" signal add kills
at moments nobody chose.  After each kill, the next start (the security bot:
recovery, then every artifact must decrypt) must pass, exactly one generation
must exist and be current, and the secret being changed must be wholly old or
wholly new.
"""

from __future__ import annotations

import json
import random
import re
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tbot_core.home import BotHome
from tbot_core.home_init import init_home
from tbot_core.paths import HomePaths
from tbot_core.safety.security_bot import SecurityBot
from tbot_core.secrets.rotation import ROTATION_CATEGORY, recover, rotate
from tbot_core.secrets.store import SecretStore
from tests.conftest import REPO

OLD = {"api_key": "AKCRASHOLD0001", "secret_key": "SKCRASHOLD0001"}
NEW = {"api_key": "AKCRASHNEW0002", "secret_key": "SKCRASHNEW0002"}
OTHERS = {
    "screener_api": {"api_key": "FINNHUBCRASH01"},
    "notifier_webhook": {"url": "https://hooks.example.invalid/crash", "token": "TOKCRASH01"},
    "broker_ibkr": {"account": "DU1234567"},
}
ARTIFACTS = 2 + 1 + len(OTHERS)  # config, identity, broker_alpaca, the others
OLD_GEN_FILES = ARTIFACTS + 2  # plus the key and generation.json
EXPLICIT_POINTS = (
    ["locked", "key_registered", "key_written"]
    + [f"artifact_written#{n}" for n in range(1, ARTIFACTS + 1)]
    + ["meta_written", "staged", "backed_up", "staging_renamed", "link_staged", "switched"]
    + [f"old_file_removed#{n}" for n in (1, 3, OLD_GEN_FILES)]
    + ["old_removed", "audited"]
)
RANDOM_KILLS = 40 - len(EXPLICIT_POINTS)
GEN_NAME = re.compile(r"^gen-\d{6}")

CHILD = """
import json, sys
from tbot_core.home import BotHome
from tbot_core.secrets import crashpoints
from tbot_core.secrets.store import SecretStore
if len(sys.argv) > 3:
    crashpoints.arm(sys.argv[3])
store = SecretStore(BotHome(sys.argv[1]))
print("ready", flush=True)
sys.stdin.readline()
store.set("broker_alpaca", json.loads(sys.argv[2]), initiator="system")
print("done", flush=True)
"""


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    paths, _ = init_home(tmp_path_factory.mktemp("crash") / "template")
    home = BotHome(str(paths.root))
    rotate(
        home,
        initiator="system",
        changes={
            HomePaths.secret_rel(name): json.dumps(
                {"fields": fields, "version": 1, "updated_utc": "2026-01-01T00:00:00.000000Z"}
            ).encode()
            for name, fields in {"broker_alpaca": OLD, **OTHERS}.items()
        },
    )
    return paths.root


def _copy(template: Path, dest: Path) -> Path:
    shutil.copytree(template, dest, symlinks=True)
    return dest


def _assert_one_complete_generation(root: Path) -> str:
    """What the next start must find; returns 'old' or 'new' for the secret being changed."""
    home = BotHome(str(root))
    started = SecurityBot(home).self_check()
    assert started.ok, started.detail
    assert recover(home) == []
    paths = home.paths
    generations = [p.name for p in paths.vault_dir.iterdir() if GEN_NAME.match(p.name)]
    assert generations == [paths.current_link.resolve().name]
    assert not paths.current_link_staging.is_symlink()
    store = SecretStore(home)
    for name, fields in OTHERS.items():
        assert store.get(name) == fields
    value = store.get("broker_alpaca")
    generation = home.vault.current_generation()
    assert (generation, value) in [(2, OLD), (3, NEW)]
    if generation == 3:
        with home.audit(readonly=True) as audit:
            assert any(r.context_dict()["generation"] == 3 for r in audit.tail(5, category=ROTATION_CATEGORY))
        assert any(p.name.startswith("vault-gen-000002-") for p in paths.vault_backups())
    assert rotate(home, initiator="system") == generation + 1  # the vault stays usable
    return "new" if generation == 3 else "old"


@pytest.mark.slow
@pytest.mark.parametrize("point", EXPLICIT_POINTS)
def test_sigkill_at_an_explicit_step_leaves_old_or_new_generation_complete(template, tmp_path, point):
    root = _copy(template, tmp_path / "home")
    killed = subprocess.run(
        [sys.executable, "-c", CHILD, str(root), json.dumps(NEW), point],
        cwd=str(REPO),
        input="go\n",
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert killed.returncode == -signal.SIGKILL, f"{point} was never reached: {killed.stderr}"
    outcome = _assert_one_complete_generation(root)
    switched_already = point in {
        "switched",
        "old_file_removed#1",
        "old_file_removed#3",
        f"old_file_removed#{OLD_GEN_FILES}",
        "old_removed",
        "audited",
    }
    assert outcome == ("new" if switched_already else "old")


@pytest.mark.slow
def test_sigkill_after_random_delays_never_leaves_a_mix(template, tmp_path):
    rng = random.Random(20260101)
    outcomes = []
    timing_root = _copy(template, tmp_path / "timing")
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(timing_root), json.dumps(NEW)],
        cwd=str(REPO),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    assert child.stdout.readline().strip() == "ready"
    began = time.perf_counter()
    child.stdin.write("go\n")
    child.stdin.flush()
    child.wait(timeout=60)
    span = time.perf_counter() - began  # sizes the random delays; not asserted
    for case in range(RANDOM_KILLS):
        root = _copy(template, tmp_path / f"home{case}")
        child = subprocess.Popen(
            [sys.executable, "-c", CHILD, str(root), json.dumps(NEW)],
            cwd=str(REPO),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert child.stdout.readline().strip() == "ready"
        child.stdin.write("go\n")
        child.stdin.flush()
        time.sleep(rng.uniform(0, span * 1.1))
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
        child.stdin.close()
        child.stdout.close()
        outcomes.append(_assert_one_complete_generation(root))
    print("random-kill outcomes:", {o: outcomes.count(o) for o in set(outcomes)}, "span", span)
    assert len(outcomes) == RANDOM_KILLS >= 10


def test_the_sweep_covers_at_least_30_moments():
    assert len(EXPLICIT_POINTS) + RANDOM_KILLS >= 30 and len(set(EXPLICIT_POINTS)) == len(EXPLICIT_POINTS)
