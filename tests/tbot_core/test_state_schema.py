"""The state.json contract: frozen types, an exact JSON round trip, strict vs lenient reading, the doc page."""

from __future__ import annotations

import dataclasses
import inspect
import json
import os
import types
from collections.abc import Mapping
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest

from tbot_core import state_schema
from tbot_core.state import StateWriter, read_state
from tbot_core.state_codec import SchemaError
from tbot_core.state_schema import CoreMode, CoreState
from tbot_core.timeutil import parse_iso_z
from tests.tbot_tui.console_states import SCENARIO_STATES, normal
from tools import state_doc

# The only JSON numbers that are not integers: durations and latencies, never money.
FLOAT_KEYS = {"age_seconds", "threshold_seconds", "window_s", "latency_us", "avg_duration_s"}
SCHEMA_TYPES = [
    cls for _name, cls in inspect.getmembers(state_schema, inspect.isclass) if dataclasses.is_dataclass(cls)
]


def mutable_parts(value: Any, path: str = "$") -> list[str]:
    """Paths of every list, dict, set or unfrozen dataclass reachable from ``value``."""
    if isinstance(value, (list, dict, set, bytearray)):
        return [path]
    if dataclasses.is_dataclass(value):
        own = [] if type(value).__dataclass_params__.frozen else [path]
        return own + [
            p for f in dataclasses.fields(value) for p in mutable_parts(getattr(value, f.name), f"{path}.{f.name}")
        ]
    if isinstance(value, Mapping):
        return [p for k, v in value.items() for p in mutable_parts(v, f"{path}.{k}")]
    if isinstance(value, tuple):
        return [p for i, v in enumerate(value) for p in mutable_parts(v, f"{path}[{i}]")]
    return []


def floats(value: Any, key: str = "$") -> list[str]:
    if isinstance(value, float):
        return [key]
    if isinstance(value, dict):
        return [k for name, v in value.items() for k in floats(v, name)]
    if isinstance(value, list):
        return [k for v in value for k in floats(v, key)]
    return []


def test_every_state_type_is_a_frozen_slotted_dataclass():
    assert len(SCHEMA_TYPES) >= 20
    for cls in SCHEMA_TYPES:
        assert cls.__dataclass_params__.frozen, cls.__name__
        assert "__slots__" in cls.__dict__, f"{cls.__name__}: without slots a new attribute could be added"


@pytest.mark.parametrize("scenario", SCENARIO_STATES)
def test_a_full_state_holds_nothing_mutable_and_refuses_assignment(scenario):
    state = SCENARIO_STATES[scenario]()
    assert mutable_parts(state) == []
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.mode = CoreMode.STOPPED  # type: ignore[misc]  # the point: the state is frozen
    with pytest.raises(dataclasses.FrozenInstanceError):
        state.account.cash = Decimal(0)  # type: ignore[misc,union-attr]  # frozen (and set in this test)
    with pytest.raises(TypeError):
        state.tuning["open"] = state.tuning["mid"]  # type: ignore[index]  # the point: mappings are read-only
    decoded = CoreState.from_json(json.loads(json.dumps(state.to_json())))
    assert mutable_parts(decoded) == [], "what the console decodes is frozen too"


@pytest.mark.parametrize("scenario", SCENARIO_STATES)
def test_the_json_round_trip_is_exact_and_money_never_travels_as_a_float(scenario):
    state = SCENARIO_STATES[scenario]()
    data = json.loads(json.dumps(state.to_json()))
    assert CoreState.from_json(data, strict=True) == state
    assert set(floats(data)) <= FLOAT_KEYS
    assert data["account"]["cash"] == "81234.50" and data["pnl"]["history"][0]["pnl"] == "0.00"


def test_strict_decoding_refuses_what_the_core_never_writes_and_lenient_keeps_the_rest():
    good = normal().to_json()
    bad_money = {**good, "account": {**good["account"], "cash": 81234.5}}
    with pytest.raises(SchemaError, match=r"\$\.account\.cash: expected a string"):
        CoreState.from_json(bad_money, strict=True)
    lenient = CoreState.from_json(bad_money)
    assert lenient.account is None and lenient.pnl == normal().pnl, "one bad section reads as absent, not the file"
    with pytest.raises(SchemaError, match="unknown key"):
        CoreState.from_json({**good, "surprise": 1}, strict=True)
    assert CoreState.from_json({**good, "surprise": 1}) == normal(), "a newer core's extra key is ignored"
    order = dict(good["orders"][0])
    del order["bar_utc"]
    with pytest.raises(SchemaError, match="bar_utc missing"):
        CoreState.from_json({**good, "orders": [order]}, strict=True)
    rows = [good["verdicts"][0], {"module": 7}, good["verdicts"][1]]
    assert len(CoreState.from_json({**good, "verdicts": rows}).verdicts) == 2, "an unreadable row is dropped"
    with pytest.raises(SchemaError, match="not one of"):
        CoreState.from_json({**good, "mode": "flying"})
    with pytest.raises(SchemaError, match="not a finite decimal"):
        CoreState.from_json({**good, "pnl": {**good["pnl"], "daily": "NaN"}}, strict=True)
    assert CoreState.from_json(good, strict=True).positions[1].qty == Decimal("-5")


def test_optional_sections_are_left_out_not_written_as_null():
    bare = CoreState(mode=CoreMode.STARTING, core=normal().core)
    assert set(bare.to_json()) == {"schema", "written_utc", "mode", "core"}
    nulls = normal().to_json()["kill_switch"]
    assert nulls["since_utc"] is None and "cause" in nulls, "inside a section a null is written"


def test_read_state_classifies_ok_missing_stale_and_garbled(tmp_path):
    path = tmp_path / "run" / "state.json"
    assert read_state(path).status == "missing"
    live = replace(normal(), core=replace(normal().core, pid=os.getpid()))
    StateWriter(path).write(live, force=True)
    read = read_state(path)
    assert read.status == "ok" and read.state == replace(live, written_utc=read.state.written_utc)
    later = parse_iso_z(read.state.written_utc) + timedelta(seconds=30)
    assert read_state(path, now=later).status == "stale"
    assert read_state(path, now=later, stale_after_s=60).status == "ok"
    StateWriter(path).write(replace(live, mode=CoreMode.STOPPED), force=True)
    assert read_state(path, now=later).status == "ok", "a stopped core's last word never goes stale"
    StateWriter(path).write(replace(live, core=replace(live.core, pid=2**22 + 12345)), force=True)
    assert read_state(path).problem.endswith("is not running")
    for text, problem in [
        ("{", "not valid JSON"),
        ('{"schema": 1}', "lacks"),
        (json.dumps({**live.to_json(), "schema": 2, "written_utc": "2026-01-01T00:00:00Z"}), "schema 2"),
        (json.dumps({**live.to_json(), "written_utc": "yesterday"}), "not a UTC time"),
        (json.dumps({**live.to_json(), "written_utc": "2026-01-01T00:00:00Z", "mode": "flying"}), "does not fit"),
        (json.dumps({**live.to_json(), "written_utc": "2026-01-01T00:00:00Z", "core": {"pid": "x"}}), "does not fit"),
    ]:
        path.write_text(text)
        read = read_state(path)
        assert (read.status, read.state) == ("garbled", None) and problem in read.problem, text


def test_the_writer_keeps_matrix_row_keys_the_redactor_would_blank(tmp_path):
    path = tmp_path / "state.json"
    StateWriter(path).write(normal(), force=True)
    rows = json.loads(path.read_text())["emergency_matrix"]
    assert [r["key"] for r in rows] == [r.key for r in normal().emergency_matrix]


def test_docs_state_md_is_generated_from_the_dataclasses():
    """Fails when a field changes without `python tools/state_doc.py` being run."""
    text = state_doc.DOC.read_text(encoding="utf-8")
    assert state_doc.with_tables(text) == text, "docs/state.md is stale: run `python tools/state_doc.py`"
    for cls in SCHEMA_TYPES:
        assert cls is CoreState or f"### `{cls.__name__}`" in text, f"{cls.__name__} is not reachable from CoreState"


def test_the_doc_tool_says_when_the_page_is_stale(tmp_path, monkeypatch, capsys):
    page = tmp_path / "state.md"
    page.write_text(f"intro\n{state_doc.BEGIN}\nold table\n{state_doc.END}\noutro\n")
    monkeypatch.setattr(state_doc, "DOC", page)
    assert state_doc.main(["--check"]) == 1 and "stale" in capsys.readouterr().err
    assert state_doc.main([]) == 0 and state_doc.main(["--check"]) == 0
    assert page.read_text().startswith("intro\n") and page.read_text().endswith(f"{state_doc.END}\noutro\n")


def test_mapping_fields_decode_as_read_only_mappings():
    decoded = CoreState.from_json(normal().to_json())
    assert isinstance(decoded.config, types.MappingProxyType)
    assert isinstance(decoded.tuning["open"].blocks, types.MappingProxyType)
    assert isinstance(decoded.verdicts[0].context, types.MappingProxyType)
