"""Random batches with randomly invalid legs are either fully posted or fully absent."""

from __future__ import annotations

import itertools
import random
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tbot_core.ledger.batch import BatchMeta, Ledger
from tbot_core.ledger.conn import open_ledger
from tbot_core.ledger.draft import Draft
from tbot_core.ledger.failures import LedgerBatchError

from .helpers import EFFECTIVE, fresh_ledger

ACCOUNTS = ("1000", "1100", "5100", "4000")
DEFECTS = (
    "none",
    "unbalanced",
    "unknown_account",
    "negative",
    "both_sides",
    "duplicate_fitid",
    "known_fitid",
    "orphan",
    "one_leg",
)
_ids = itertools.count()

group_st = st.lists(st.tuples(st.sampled_from(ACCOUNTS), st.integers(1, 10**9)), min_size=1, max_size=5)
batch_st = st.tuples(
    st.lists(group_st, min_size=1, max_size=8), st.sampled_from(DEFECTS), st.randoms(use_true_random=False)
)


@pytest.fixture(scope="module")
def db(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = fresh_ledger(tmp_path_factory.mktemp("hyp"))
    with Ledger(path) as ledger:  # one known fitid to collide with
        ledger.run(
            BatchMeta("seed", "posting"),
            lambda d: d.add_group(
                "POSTING", EFFECTIVE, "seed", [("1000", 5, 0), ("3000", 0, 5)], broker_code="HYP", fitid="known-1"
            ),
        )
    return path


def _counts(path: Path) -> tuple[int, int, int]:
    conn = open_ledger(path, readonly=True)
    try:
        return tuple(
            conn.execute(
                "SELECT (SELECT count(*) FROM groups), (SELECT count(*) FROM legs), (SELECT count(*) FROM batches)"
            ).fetchone()
        )
    finally:
        conn.close()


def _build(groups: list[list[tuple[str, int]]], defect: str, rnd: random.Random) -> Callable[[Draft], None]:
    """Balanced groups (each debit list offset by one credit to cash), then one defect applied at a random place."""

    def build(draft: Draft) -> None:
        target = rnd.randrange(len(groups))
        for index, debits in enumerate(groups):
            legs = [(acct, amount, 0) for acct, amount in debits] + [("1000", 0, sum(a for _, a in debits))]
            fitid = f"hyp-{next(_ids)}"
            if index == target:
                if defect == "unbalanced":
                    legs[0] = (legs[0][0], legs[0][1] + 1, 0)
                elif defect == "unknown_account":
                    legs[0] = ("9999-NOPE", legs[0][1], 0)
                elif defect == "negative":
                    legs[-1] = ("1000", -legs[-1][2], 0)
                elif defect == "both_sides":
                    legs[0] = (legs[0][0], legs[0][1], 1)
                elif defect == "duplicate_fitid" and index > 0:
                    fitid = draft.groups[-1][7]
                elif defect == "duplicate_fitid":
                    fitid = "known-1"
                elif defect == "known_fitid":
                    fitid = "known-1"
                elif defect == "one_leg":
                    legs = [(legs[0][0], legs[0][1], 0)]
            gid = draft.add_group("POSTING", EFFECTIVE, "hyp", legs, broker_code="HYP", fitid=fitid)
            if index == target and defect == "orphan":
                draft.add_leg_to(gid + 10_000, "1000", 1, 0)

    return build


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(batch=batch_st)
def test_random_batch_is_all_or_nothing(
    db: Path, batch: tuple[list[list[tuple[str, int]]], str, random.Random]
) -> None:
    """A valid batch adds exactly its legs; any defect adds nothing and leaves a rolled_back record."""
    groups, defect, rnd = batch
    before = _counts(db)
    batch_id = f"hyp-batch-{next(_ids)}"
    legs = sum(len(g) + 1 for g in groups)
    with Ledger(db) as ledger:
        if defect == "none":
            outcome = ledger.run(BatchMeta(batch_id, "posting"), _build(groups, defect, rnd))
            assert outcome.row_count == legs
            assert _counts(db) == (before[0] + len(groups), before[1] + legs, before[2] + 1)
            return
        with pytest.raises(LedgerBatchError):
            ledger.run(BatchMeta(batch_id, "posting"), _build(groups, defect, rnd))
    assert _counts(db) == before
    conn = open_ledger(db, readonly=True)
    try:
        assert conn.execute("SELECT commit_state FROM failed_batches WHERE batch_id = ?", (batch_id,)).fetchall() == [
            ("rolled_back",)
        ]
    finally:
        conn.close()
