"""The escalation table's helpers: which actions stop the engine, which stops restart, unknown places fail
closed, and the README table says exactly what each cell does."""

from __future__ import annotations

import pytest

from tbot_core.safety.escalation import (
    ERROR_CLASSES,
    FALLBACK,
    PLACES,
    POLICY,
    Action,
    Rule,
    is_known_place,
    lookup,
    markdown_table,
)


def test_only_a_supervised_stop_and_the_kill_switch_stop_the_engine():
    assert {a for a in Action if a.stops_engine} == {Action.SUPERVISED_STOP, Action.KILL_SWITCH}


@pytest.mark.parametrize(
    "key,restarts",
    [
        ("feed_down", True),
        ("logic_error", True),
        ("daily_loss", False),
        ("validation_fail", False),
        ("broker_down", False),
        ("", False),
    ],
)
def test_a_rule_restarts_only_when_its_matrix_row_says_reboot_yes(key, restarts):
    assert Rule(Action.SUPERVISED_STOP, Action.SUPERVISED_STOP, key, "why").restarts is restarts


def test_every_policy_place_is_known_and_any_other_is_not():
    assert all(is_known_place(place) for place in PLACES)
    assert not is_known_place("somewhere_new") and not is_known_place("")


def test_an_unknown_place_or_error_class_gets_the_fail_closed_fallback():
    assert lookup("NetworkError", "somewhere_new") is FALLBACK
    assert lookup("KeyError", "bar") is FALLBACK
    assert (FALLBACK.first, FALLBACK.after, FALLBACK.matrix_key) == (
        Action.SUPERVISED_STOP,
        Action.SUPERVISED_STOP,
        "logic_error",
    )
    assert lookup("LogicError", "bar") is POLICY[("LogicError", "bar")]


def test_the_markdown_table_has_a_header_a_separator_and_one_row_per_place_in_order():
    lines = markdown_table().split("\n")
    assert lines[0] == "| where | NetworkError | BrokerError | LogicError | ConfigError |"
    assert lines[1] == "|---|---|---|---|---|"
    assert len(lines) == 2 + len(PLACES)
    assert [line.split(" | ")[0] for line in lines[2:]] == [f"| `{place}`" for place in PLACES]
    assert all(line.endswith(" |") and line.count(" | ") == len(ERROR_CLASSES) for line in lines[2:])


def _cell(cls: str, place: str) -> str:
    row = next(line for line in markdown_table().split("\n") if line.startswith(f"| `{place}` |"))
    cells = row.removeprefix(f"| `{place}` | ").removesuffix(" |").split(" | ")
    return cells[ERROR_CLASSES.index(cls)]


@pytest.mark.parametrize(
    "cls,place,head",
    [
        ("LogicError", "bar", "**retry → supervised_stop** (logic_error, restart)"),
        ("ConfigError", "bar", "**supervised_stop** (validation_fail, no restart)"),
        ("LogicError", "order_submit_exposed", "**kill_switch** (daily_loss)"),
        ("NetworkError", "order_submit_exposed", "**retry → kill_switch** (daily_loss)"),
        ("NetworkError", "order_submit", "**retry → suspend** (broker_down)"),
        ("NetworkError", "feed", "**supervised_stop** (feed_down, restart)"),
        ("BrokerError", "order_submit", "**log**"),
        ("NetworkError", "notifier", "**retry → log**"),
    ],
)
def test_each_markdown_cell_states_the_action_the_matrix_row_whether_it_restarts_and_why(cls, place, head):
    assert _cell(cls, place) == f"{head}: {POLICY[(cls, place)].why}"
