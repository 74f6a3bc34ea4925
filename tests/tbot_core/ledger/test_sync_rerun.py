"""A re-run of a committed sync is answered from the stored input digest, and that shortcut never drops activities.

``ingest_activities`` stores ``input_digest`` (the activities exactly as handed
in) on the sync batch; the same run id with the same input is a repeat without
formatting or hashing any activity.  Any other input, even the same content in
another order, goes through the full content comparison, and the digest itself
is covered by the hash chain.
"""

from __future__ import annotations

import sqlite3
from dataclasses import replace
from decimal import Decimal
from pathlib import Path
from typing import NoReturn

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tbot_core.ledger.activity import Activity
from tbot_core.ledger.chain import verify_all
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.failures import LedgerBatchError
from tbot_core.ledger.sync import ingest_activities, input_digest

from .helpers import T0, cash, fill, fresh_ledger, trading_day


def _rows(db: Path, sql: str) -> list[tuple]:
    conn = open_ledger(db, readonly=True)
    try:
        return conn.execute(sql).fetchall()
    finally:
        conn.close()


def test_a_rerun_of_the_same_input_is_answered_without_hashing_any_activity(tmp_path: Path, monkeypatch) -> None:
    db = fresh_ledger(tmp_path)
    acts = trading_day("d1", 3)
    first = ingest_activities(db, "ALPACA", acts, sync_run_id="run-1")
    assert _rows(db, "SELECT input_digest FROM batches WHERE sync_run_id = 'run-1'") == [
        (input_digest("ALPACA", acts),)
    ]

    def no_hashing(self: Activity, time_text: str | None = None) -> NoReturn:
        raise AssertionError("the shortcut must not hash activities")

    monkeypatch.setattr(Activity, "content_hash", no_hashing)
    again = ingest_activities(db, "alpaca", list(acts), sync_run_id="run-1")
    assert again.already_committed and (again.batch_id, again.posted, again.row_count) == (
        first.batch_id,
        first.posted,
        first.row_count,
    )
    assert _rows(db, "SELECT count(*) FROM batches WHERE sync_run_id = 'run-1'") == [(1,)]


def test_the_same_content_in_another_order_or_spelling_repeats_through_the_full_comparison(tmp_path: Path) -> None:
    db = fresh_ledger(tmp_path)
    acts = trading_day("d1", 2)
    first = ingest_activities(db, "ALPACA", acts, sync_run_id="run-1")
    respelled = [replace(a, price=a.price.quantize(Decimal("0.0001"))) for a in reversed(acts)]
    assert input_digest("ALPACA", respelled) != input_digest("ALPACA", acts)
    again = ingest_activities(db, "ALPACA", respelled, sync_run_id="run-1")
    assert again.already_committed and again.batch_id == first.batch_id


def test_other_content_under_a_committed_run_id_is_still_refused(tmp_path: Path) -> None:
    db = fresh_ledger(tmp_path)
    acts = trading_day("d1", 2)
    ingest_activities(db, "ALPACA", acts, sync_run_id="run-1")
    changed = [*acts[:-1], replace(acts[-1], fee=acts[-1].fee + 1)]
    with pytest.raises(LedgerBatchError, match="run-1 was already committed with different content"):
        ingest_activities(db, "ALPACA", changed, sync_run_id="run-1")
    with pytest.raises(LedgerBatchError, match="already used for broker ALPACA"):
        ingest_activities(db, "IBKR", acts, sync_run_id="run-1")


def test_the_input_digest_is_covered_by_the_hash_chain(tmp_path: Path) -> None:
    """Rewriting a batch's input digest (to make other activities look already committed) breaks the chain."""
    db = fresh_ledger(tmp_path)
    ingest_activities(db, "ALPACA", trading_day("d1", 1), sync_run_id="run-1")
    conn = sqlite3.connect(db, isolation_level=None)
    try:
        conn.execute("DROP TRIGGER batches_no_update")
        conn.execute("UPDATE batches SET input_digest = printf('%064d', 7) WHERE sync_run_id = 'run-1'")
    finally:
        conn.close()
    reader = open_ledger(db, readonly=True)
    try:
        problem = verify_all(reader).problem
    finally:
        reader.close()
    assert problem and "sync:run-1:" in problem and "no longer match its hash" in problem


_field = st.sampled_from(["fitid", "symbol", "qty", "amount", "fee", "seconds", "order"])


@settings(max_examples=60, deadline=None)
@given(field=_field, n=st.integers(2, 5))
def test_changing_any_field_or_the_order_changes_the_input_digest(field: str, n: int) -> None:
    acts = [fill(f"f{i}", "buy", str(i + 1), "10", minutes=i) for i in range(n)]
    base = input_digest("PAPER", acts)
    if field == "order":
        other = [acts[-1], *acts[:-1]]
    elif field == "seconds":
        other = [*acts[:-1], replace(acts[-1], timestamp_utc=acts[-1].timestamp_utc.replace(microsecond=1))]
    elif field in ("qty", "amount", "fee"):
        other = [*acts[:-1], replace(acts[-1], **{field: getattr(acts[-1], field) + Decimal("0.001")})]
    else:
        other = [*acts[:-1], replace(acts[-1], **{field: getattr(acts[-1], field) + "x"})]
    assert input_digest("PAPER", other) != base
    assert input_digest("IBKR", acts) != base
    # a field boundary cannot move: "ab" + "" is not "a" + "b"
    split = [replace(acts[0], fitid="f0x", symbol="AAPL"), *acts[1:]]
    moved = [replace(acts[0], fitid="f0", symbol="xAAPL"), *acts[1:]]
    assert input_digest("PAPER", split) != input_digest("PAPER", moved)


def test_an_activity_with_a_non_utc_zone_object_digests_by_its_instant() -> None:
    """Any zone object with offset zero names the same instant; the digest follows the instant, as the content does."""
    from datetime import timedelta, timezone

    act = cash("t1", "TRANSFER", "100")
    other_zone = replace(act, timestamp_utc=act.timestamp_utc.replace(tzinfo=timezone(timedelta(0), "Z")))
    assert input_digest("PAPER", [act]) == input_digest("PAPER", [other_zone])
    assert act.content_hash() == other_zone.content_hash()
    assert T0.utcoffset() == timedelta(0)
