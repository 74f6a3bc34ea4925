"""The core's mode: one pure function from facts, every transition audited once from one place."""

from __future__ import annotations

import itertools
from dataclasses import fields, replace
from pathlib import Path

import pytest

import tbot_core
from tbot_core.audit import AuditLog
from tbot_core.runtime.mode import CRITICAL_MODES, ModeFacts, ModeTracker, core_mode
from tbot_core.state_schema import CoreMode

RUNNING = ModeFacts(launched=True, checks_run=True, engine_alive=True)
# One set of facts that yields each mode: the table every transition below is driven by.
FACTS_FOR = {
    CoreMode.STARTING: ModeFacts(),
    CoreMode.RUNNING: RUNNING,
    CoreMode.STOPPED: replace(RUNNING, engine_alive=False),
    CoreMode.HALTED: replace(RUNNING, halted=True),
    CoreMode.SUSPENDED: replace(RUNNING, suspended=True),
    CoreMode.DEFENSE: replace(RUNNING, defense=True),
    CoreMode.BLOCKED: ModeFacts(checks_run=True, blocked=True),
}
CAUSES = {mode: f"because {mode.value}" for mode in CoreMode}

# The rules, in the order they decide (each row: facts, the mode, why it must be that one).
RULES = [
    (ModeFacts(), CoreMode.STARTING, "nothing ran yet"),
    (ModeFacts(checks_run=True), CoreMode.STOPPED, "the pipeline ran but nothing was launched"),
    (replace(RUNNING, blocked=True, halted=True), CoreMode.BLOCKED, "a blocked launch outranks everything"),
    (replace(RUNNING, stopping=True, engine_alive=False, halted=True), CoreMode.STOPPED, "stopped outranks halted"),
    (replace(RUNNING, stopping=True), CoreMode.RUNNING, "still running until the engine is gone"),
    (replace(RUNNING, halted=True, suspended=True, defense=True), CoreMode.HALTED, "halted outranks suspended"),
    (replace(RUNNING, suspended=True, defense=True), CoreMode.SUSPENDED, "suspended outranks defense"),
    (replace(RUNNING, engine_alive=False, suspended=True), CoreMode.SUSPENDED, "an engine waiting out an outage"),
    (replace(RUNNING, engine_alive=False), CoreMode.STOPPED, "the engine ended and no restart is due"),
    (replace(RUNNING, engine_alive=False, restart_pending=True), CoreMode.RUNNING, "a restart is scheduled"),
    (replace(RUNNING, engine_alive=False, feed_ended=True), CoreMode.RUNNING, "a replay that ran out"),
    (replace(RUNNING, engine_alive=False, restart_pending=True, defense=True), CoreMode.DEFENSE, "defense too"),
    (replace(RUNNING, defense=True), CoreMode.DEFENSE, "compressed limits"),
]


@pytest.mark.parametrize(("facts", "mode", "why"), RULES, ids=[r[2] for r in RULES])
def test_each_rule_of_the_mode_table(facts, mode, why):
    assert core_mode(facts) is mode, why


def test_the_table_drives_every_mode():
    assert {core_mode(facts) for facts in FACTS_FOR.values()} == set(CoreMode)
    assert all(core_mode(facts) is mode for mode, facts in FACTS_FOR.items())


def test_every_combination_of_facts_has_exactly_the_mode_its_strongest_fact_says():
    names = [f.name for f in fields(ModeFacts)]
    for values in itertools.product((False, True), repeat=len(names)):
        f = ModeFacts(**dict(zip(names, values)))
        mode = core_mode(f)
        assert (mode is CoreMode.BLOCKED) == f.blocked
        gone = not f.launched or (f.stopping and not f.engine_alive)
        if not f.blocked and gone:
            assert mode in (CoreMode.STARTING, CoreMode.STOPPED)
            assert (mode is CoreMode.STARTING) == (not f.launched and not f.checks_run)
        elif not f.blocked:
            assert (mode is CoreMode.HALTED) == f.halted
            assert (mode is CoreMode.SUSPENDED) == (f.suspended and not f.halted)
            if mode in (CoreMode.RUNNING, CoreMode.DEFENSE):
                assert f.engine_alive or f.restart_pending or f.feed_ended
                assert (mode is CoreMode.DEFENSE) == f.defense


@pytest.fixture
def audit(tmp_path: Path):
    with AuditLog(tmp_path / "audit.db") as log:
        yield log


def mode_rows(audit: AuditLog) -> list[dict]:
    return [
        {**row.context_dict(), "severity": row.severity}
        for row in audit.iter_rows()
        if (row.category, row.event) == ("supervisor", "mode_changed")
    ]


@pytest.mark.parametrize(
    ("before", "after"),
    [(a, b) for a, b in itertools.product(CoreMode, CoreMode) if a is not b],
    ids=lambda m: m.value,
)
def test_every_transition_is_audited_once_with_its_cause_and_severity(audit, before, after):
    asked: list[CoreMode] = []
    tracker = ModeTracker(audit, lambda mode: asked.append(mode) or CAUSES[mode])
    tracker.mode = before
    assert tracker.observe(FACTS_FOR[after]) is after
    assert tracker.observe(FACTS_FOR[after]) is after  # no change, no second row
    severity = "critical" if after in CRITICAL_MODES else "info"
    assert mode_rows(audit) == [{"from": before.value, "to": after.value, "why": CAUSES[after], "severity": severity}]
    assert asked == [after], "the cause is asked for the new mode, once"


def test_a_long_cause_is_cut_and_a_missing_one_is_empty(audit):
    tracker = ModeTracker(audit, lambda mode: "x" * 1000 if mode is CoreMode.HALTED else None)
    tracker.observe(FACTS_FOR[CoreMode.HALTED])
    tracker.observe(FACTS_FOR[CoreMode.RUNNING])
    assert [len(r["why"]) for r in mode_rows(audit)] == [300, 0]


def test_mode_changed_rows_come_from_the_mode_tracker_only():
    package = Path(tbot_core.__file__).parent
    writers = sorted(str(p.relative_to(package)) for p in package.rglob("*.py") if '"mode_changed"' in p.read_text())
    assert writers == ["runtime/mode.py"]


def test_modes_serialise_as_the_strings_state_json_always_carried():
    assert [m.value for m in CoreMode] == [
        "starting",
        "running",
        "stopped",
        "halted",
        "suspended",
        "defense",
        "blocked",
    ]
    assert CoreMode.HALTED == "halted" and f"{CoreMode.DEFENSE}" == "defense"
